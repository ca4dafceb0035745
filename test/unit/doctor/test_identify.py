"""Senses and offsets from the torques holding the arm at two poses; what gravity cannot see is said."""
import numpy as np
import pytest

from sim2real.control.nominal_model import NominalModel
from sim2real.doctor.identify import _predict, analyse_gravity
from sim2real.doctor.report import joint_findings


def poses(jaco):
    q1 = np.array(jaco.home)
    return [q1, q1 + np.array([0, 0, 0.6, 0, -0.45, 0.3, 0])]


def held(model, S, d, qs, seed=0):
    rng = np.random.default_rng(seed)
    return [_predict(model, S, d, q) + 0.02 * rng.standard_normal(len(q)) for q in qs]   # friction-sized misfit


@pytest.mark.parametrize("flip,offset", [(4, 1), (2, 3), (5, 3), (None, 1)])
def test_a_reversed_joint_and_an_offset_are_found_from_two_poses(jaco, flip, offset):
    m = NominalModel(jaco)
    S, d = np.ones(jaco.n), np.zeros(jaco.n)
    if flip is not None:
        S[flip] = -1
    d[offset] = 0.05
    qs = poses(jaco)
    # what the driver reports at those true poses: q_reported = S q_true + d
    reported = [S * q + d for q in qs]
    g = analyse_gravity(held(m, S, d, reported), reported, m)
    names = jaco.joint_names
    assert g["sign"] == ({names[flip]: -1} if flip is not None else {})
    assert set(g["offset"]) == {names[offset]} and g["offset"][names[offset]] == pytest.approx(0.05, abs=0.01)


def test_joints_gravity_never_loads_are_reported_as_such(jaco):
    m = NominalModel(jaco)
    qs = poses(jaco)
    g = analyse_gravity(held(m, np.ones(jaco.n), np.zeros(jaco.n), qs), qs, m)
    assert "joint_1" not in g["observable_signs"] and "joint_7" not in g["observable_signs"]
    assert g["sign"] == {} and g["offset"] == {}
    # one pose only: the rolls (joint_3, joint_5) are not loaded at the start pose either
    g1 = analyse_gravity(held(m, np.ones(jaco.n), np.zeros(jaco.n), qs[:1]), qs[:1], m)
    assert "joint_3" not in g1["observable_signs"] and "joint_5" not in g1["observable_signs"]


def test_the_mirror_image_is_reported_as_what_torques_cannot_tell(jaco):
    """Reversing joint_2..joint_6 together is the arm turned half a turn about its vertical axis:
    the same holding torques at every pose. The report says so instead of guessing silently."""
    m = NominalModel(jaco)
    qs = poses(jaco)
    g = analyse_gravity(held(m, np.ones(jaco.n), np.zeros(jaco.n), qs), qs, m)
    assert g["alternative"] == ["joint_2", "joint_3", "joint_4", "joint_5", "joint_6"]
    from sim2real.doctor.identify import JointID
    ids = [JointID(n, 1.0, 0.01, 0.0, 0.99, 0.0, 0.0, 0.0, 0.0005) for n in jaco.joint_names]
    f = joint_findings(ids, g)
    assert f[0].check == "direction" and f[0].joint == "-" and f[0].status == "cannot tell"
    by = {(x.check, x.joint): x.status for x in f}
    assert by[("direction", "joint_1")] == "cannot tell" and by[("direction", "joint_2")] == "OK"
