"""Senses and offsets from the torques holding the arm at two poses; what gravity cannot see is said."""
import numpy as np
import pytest

from sim2real.control.nominal_model import NominalModel
from sim2real.doctor.identify import JointID, _predict, analyse_gravity
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


def test_gravity_cannot_tell_joint_3_reversed_from_joint_5_reversed(jaco):
    """The arm reflected in its vertical plane (every roll joint reversed) holds with the same
    torques at every pose, and gravity never loads joint_1 (vertical) or joint_7 (the hand):
    joint_3 reversed and joint_5 reversed are all but the same explanation of what is held."""
    m = NominalModel(jaco)
    S, d = np.ones(jaco.n), np.zeros(jaco.n)
    S[4] = -1
    reported = [S * q + d for q in poses(jaco)]
    fits = {tuple(r): res for res, r in analyse_gravity(held(m, S, d, reported), reported, m)["fits"]}
    assert abs(fits[("joint_3",)] - fits[("joint_5",)]) < 0.1


@pytest.mark.parametrize("flip", [None, 0, 2, 4])
def test_the_relative_sense_of_joint_1_and_joint_3_decides_the_rolls(jaco, flip):
    """What the pulses read through the arm's inertia (relative_senses: S_1 S_3) picks joint_3 or
    joint_5 (or joint_1, which gravity never sees), and says what the reflection would be."""
    m = NominalModel(jaco)
    S, d = np.ones(jaco.n), np.zeros(jaco.n)
    if flip is not None:
        S[flip] = -1
    reported = [S * q + d for q in poses(jaco)]
    g = analyse_gravity(held(m, S, d, reported), reported, m, relative={(0, 2): S[0] * S[2]})
    names = jaco.joint_names
    assert g["sign"] == ({names[flip]: -1} if flip is not None else {})
    assert g["tied"] == []
    assert "joint_1" in g["observable_signs"] and g["coupled"] == {"joint_1": "joint_3"}
    # the reflection (joint_1, joint_3, joint_5 flipped; joint_7 unseen) is named as what fits as well
    R = S.copy()
    R[[0, 2, 4]] *= -1
    assert [names[j] for j in range(jaco.n) if R[j] < 0] in g["alternatives"]
    ids = [JointID(n, 1.0, 0.01, 0.0, 0.99, 0.0, 0.0, 0.0, 0.0005) for n in names]
    by = {(x.check, x.joint): x for x in joint_findings(ids, g)}
    assert by[("direction", "joint_1")].status == ("wrong" if flip == 0 else "OK")
    assert "joint_3" in by[("direction", "joint_1")].note


def test_relative_senses_reads_joint_1_against_joint_3_from_the_pulses(jaco):
    """On the twin under 40 ms + 20 ms lag (combined-c: joint_5 reversed) and 30 ms + 15 ms
    (combined-b: joint_3 reversed): the pulses' coupling gives S_1 S_3, and identify then finds
    the reversed roll without a tie."""
    from sim2real import paths
    from sim2real.doctor.identify import identify, relative_senses
    from sim2real.doctor.offline import run_offline
    from sim2real.sim.reality import load_profile
    m = NominalModel(jaco)
    root = paths.data_root() / "test" / "fixtures" / "reality"
    for fixture, s13, reversed_ in (("combined-c", 1.0, {"joint_2", "joint_5"}), ("combined-b", -1.0, {"joint_3"})):
        _, order, exc, _ = run_offline(jaco, load_profile(root / f"{fixture}.yaml"))
        assert exc.finished and not exc.aborted
        rec = exc.record()
        to_cfg = [order.index(n) for n in jaco.joint_names]
        S = np.array([-1.0 if n in reversed_ else 1.0 for n in jaco.joint_names])
        rel = relative_senses(rec, to_cfg, m, S * rec["q"][0][to_cfg])
        assert rel.get((0, 2)) == s13
        assert all(v == S[j] * S[k] for (j, k), v in rel.items())
        _, grav = identify(rec, order, jaco, m)
        assert set(grav["sign"]) == reversed_ and grav["tied"] == []
