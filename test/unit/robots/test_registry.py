"""Every registered robot builds, resets, steps without NaN; bad configs fail with the key named."""
import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.robots import ROBOTS, load_robot
from sim2real.robots.spec import load_spec
from sim2real.sim.simulator import Simulator


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_every_robot_builds_and_steps(name):
    robot = load_robot(name)
    sim = Simulator(robot)
    q0, _, _ = sim.joint_state()
    assert q0.shape == (robot.n,)
    np.testing.assert_allclose(q0, robot.home)
    for _ in range(200):
        sim.step(np.zeros(robot.n))
    q, qd, eff = sim.joint_state()
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(qd))
    assert not np.allclose(q, q0), "with zero torque, gravity must move the arm"


def test_jaco_limits_come_from_urdf(jaco):
    assert jaco.joint_names == tuple(f"joint_{i}" for i in range(1, 8))
    np.testing.assert_allclose(jaco.effort_limit, [30.5] * 4 + [6.8] * 3)
    assert jaco.position_upper[1] == pytest.approx(2.35) and np.isinf(jaco.position_upper[0])


def test_jaco_reach_length(jaco):
    from sim2real.control.nominal_model import NominalModel
    m = NominalModel(jaco)
    ee = m.ee_position(np.zeros(jaco.n))   # candle pose: straight up
    assert ee[2] == pytest.approx(0.2755 + 0.41 + 0.2073 + 2 * 0.10375 + 0.16, abs=1e-3)


def test_unknown_robot():
    with pytest.raises(ConfigError, match="unknown robot 'nao2'"):
        load_robot("nao2")


def test_malformed_config_names_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = open(load_robot("jaco").config_path).read().replace("kp: 225.0, kd: 30.0, armature: 0.04}", "kp: fast}", 1)
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"arm_joints.joint_1.*kp"):
        load_spec(bad)


def test_missing_urdf(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(load_robot("jaco").config_path).read().replace("urdf/jaco.urdf", "urdf/none.urdf"))
    with pytest.raises(ConfigError, match="urdf: no such file"):
        load_spec(bad)
