"""Every registered robot builds, resets, steps without NaN; a robot registers from data alone;
bad configs fail with the key named."""
import glob
import shutil
import textwrap

import numpy as np
import pytest

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.robots import ROBOTS, load_robot, pd_torque
from sim2real.robots.registry import ROBOT_PATH_ENV
from sim2real.robots.spec import load_spec
from sim2real.sim.reality import load_profile
from sim2real.sim.simulator import Simulator


def test_ships_three_robots():
    assert {"jaco", "go1", "nao"} <= set(ROBOTS)


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_every_robot_builds_and_steps(name):
    robot = load_robot(name)
    sim = Simulator(robot)
    q0, _, _ = sim.joint_state()
    assert q0.shape == (robot.n,)
    np.testing.assert_allclose(q0, robot.home)
    assert robot.pd_kp.shape == robot.pd_kd.shape == (robot.n,)
    assert robot.tasks and robot.command_topic.endswith("_controller/commands")
    for _ in range(200):
        sim.step(np.zeros(robot.n))
    q, qd, eff = sim.joint_state()
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(qd))
    assert not np.allclose(q, q0), "with zero torque, gravity must move the robot"
    pos, quat = sim.base_pose()
    assert pos.shape == (3,) and quat.shape == (4,) and np.isclose(np.linalg.norm(quat), 1.0)
    if robot.floating_base:
        ori, gyro, acc = sim.imu()
        assert ori.shape == (4,) and gyro.shape == acc.shape == (3,) and np.all(np.isfinite(acc))
        assert sim.foot_forces().shape == (len(robot.foot_contacts),)


@pytest.mark.parametrize("path", sorted(glob.glob(str(paths.resolve("config/reality/*.yaml")))))
def test_example_profiles_build_for_their_robot(path):
    """Each shipped profile resolves against the robot it names and its dynamics build."""
    prof = load_profile(path)
    robot = load_robot(prof.data["robot"])
    res = prof.resolve(robot)
    assert res.motor_strength.shape == (robot.n,)
    sim = Simulator(robot, prof)
    sim.step(np.zeros(robot.n))
    assert np.all(np.isfinite(sim.data.qpos))


PENDULUM_URDF = """<?xml version="1.0"?>
<robot name="pendulum">
  <link name="base"><inertial><mass value="1"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial></link>
  <link name="arm">
    <inertial><origin xyz="0 0 -0.25"/><mass value="0.5"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.001"/></inertial>
    <collision><origin xyz="0 0 -0.25"/><geometry><cylinder radius="0.02" length="0.5"/></geometry></collision>
  </link>
  <link name="tip"/>
  <joint name="swing" type="revolute"><parent link="base"/><child link="arm"/><axis xyz="0 1 0"/>
    <limit lower="-3" upper="3" effort="5" velocity="10"/></joint>
  <joint name="tip_fixed" type="fixed"><parent link="arm"/><child link="tip"/><origin xyz="0 0 -0.5"/></joint>
</robot>
"""

PENDULUM_YAML = """\
name: pendulum
urdf: urdf/pendulum.urdf        # relative to the robot directory
base: fixed
actuation: position
base_link: base
end_effector: tip
control_rate_hz: 200
policy_rate_hz: 50
joints:
  swing: {stiffness: 8.0, damping: 0.3}
home: [0.5]
safety: {position_margin: 0.05, velocity_scale: 1.0, hold_kp: 8.0, hold_kd: 0.3, watchdog_s: 0.1}
scene:
  floor: {height: -1.0}
tasks: [reach]
"""


@pytest.fixture
def robot_dir(tmp_path, monkeypatch):
    """A robot directory holding data only: robots/pendulum.yaml + urdf/pendulum.urdf."""
    (tmp_path / "robots").mkdir()
    (tmp_path / "urdf").mkdir()
    (tmp_path / "urdf" / "pendulum.urdf").write_text(PENDULUM_URDF)
    (tmp_path / "robots" / "pendulum.yaml").write_text(PENDULUM_YAML)
    monkeypatch.setenv(ROBOT_PATH_ENV, str(tmp_path))
    return tmp_path


def test_robot_registers_from_a_data_directory(robot_dir):
    assert "pendulum" in ROBOTS and ROBOTS["pendulum"] == robot_dir / "robots" / "pendulum.yaml"
    robot = load_robot("pendulum")
    assert robot.urdf_path == robot_dir / "urdf" / "pendulum.urdf"
    assert robot.joint_names == ("swing",) and robot.effort_limit[0] == 5.0
    assert robot.command_topic == "/position_controller/commands" and robot.pd_kp[0] == 8.0
    sim = Simulator(robot)
    assert sim.target() is not None            # its reach task brings the table and target
    for _ in range(400):                       # 2 s holding home on its PD against gravity
        q, qd, _ = sim.joint_state()
        sim.step(pd_torque(robot, robot.home, q, qd))
    q, qd, _ = sim.joint_state()
    assert np.all(np.isfinite(q)) and abs(q[0] - 0.5) < 0.2 and abs(qd[0]) < 0.05


def test_robot_directories_are_read_when_asked(robot_dir, monkeypatch):
    assert "pendulum" in ROBOTS
    monkeypatch.delenv(ROBOT_PATH_ENV)
    assert "pendulum" not in ROBOTS
    with pytest.raises(ConfigError, match="unknown robot 'pendulum'"):
        load_robot("pendulum")


def test_a_name_defined_twice_is_an_error(robot_dir):
    shutil.copy(load_robot("jaco").config_path, robot_dir / "robots" / "jaco.yaml")
    with pytest.raises(ConfigError, match="robot 'jaco' is defined twice"):
        load_robot("go1")


def test_randomization_is_found_beside_the_robot(robot_dir):
    from sim2real.sim.randomize import load_randomization
    robot = load_robot("pendulum")
    with pytest.raises(ConfigError, match=str(robot_dir / "randomization" / "pendulum.yaml")):
        load_randomization(robot)              # names where it looked: beside robots/pendulum.yaml
    (robot_dir / "randomization").mkdir()
    (robot_dir / "randomization" / "pendulum.yaml").write_text(
        "damping_scale: [0.5, 2.0]\nmotor_strength: [0.9, 1.1]\n")
    r = load_randomization(robot)
    assert r.ranges == {"damping_scale": (0.5, 2.0), "motor_strength": (0.9, 1.1)}


def test_config_name_must_match_file(robot_dir):
    (robot_dir / "robots" / "pendulum2.yaml").write_text(PENDULUM_YAML)
    with pytest.raises(ConfigError, match="name: 'pendulum' does not match the file name 'pendulum2'"):
        load_robot("pendulum2")


@pytest.mark.parametrize("patch,key", [
    (("actuation: position", "actuation: torque"), "actuation"),
    (("base: fixed", "base: flying"), "base"),
    (("swing: {stiffness: 8.0, damping: 0.3}", "swing: {damping: 0.3}"), "joints.swing: missing key 'stiffness'"),
    (("control_rate_hz: 200", "control_rate_hz: 200\nphysics_dt: 0.003"), "physics_dt"),
    (("end_effector: tip", "end_effector: hand"), "end_effector: no link 'hand'"),
    (("tasks: [reach]", "tasks: [juggle]"), "tasks.juggle"),
])
def test_bad_robot_data_names_key(robot_dir, patch, key):
    (robot_dir / "robots" / "pendulum.yaml").write_text(PENDULUM_YAML.replace(*patch))
    with pytest.raises(ConfigError, match=key):
        load_robot("pendulum")


def test_pd_torque_is_clipped_pd():
    robot = load_robot("go1")
    q = robot.home
    tau = pd_torque(robot, q + 0.1, q, np.full(robot.n, 2.0))
    np.testing.assert_allclose(tau, robot.pd_kp * 0.1 - robot.pd_kd * 2.0)
    big = pd_torque(robot, q + 10.0, q, np.zeros(robot.n))
    np.testing.assert_allclose(big, robot.effort_limit)


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
    with pytest.raises(ConfigError, match=r"joints.joint_1.*kp"):
        load_spec(bad)


def test_missing_urdf(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(load_robot("jaco").config_path).read().replace("urdf/jaco.urdf", "urdf/none.urdf"))
    with pytest.raises(ConfigError, match="urdf: no such file"):
        load_spec(bad)
