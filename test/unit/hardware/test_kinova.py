"""The Kinova Jaco 2 core on synthetic kinova_driver streams: vendor -> contract -> vendor round
trips, the joint convention against Kinova's own kinematics, refusals."""
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sim2real.hardware import load_hardware, msgs
from sim2real.hardware.base import Refused
from sim2real.hardware.kinova import FIELDS, KinovaJaco2
from sim2real.robots import load_robot

G = np.array([0.0, 9.0, 0.5, 4.0, 0.2, 1.0, 0.0])     # a stand-in gravity torque, N m


@pytest.fixture
def core():
    robot = load_robot("jaco")
    return KinovaJaco2(robot, load_hardware(robot), gravity=lambda q: G + 0.1 * np.sin(q))


def _stream(core, n=20, seed=0):
    """kinova_driver's out/joint_state as it publishes it: 7 arm joints, 3 fingers, 3 finger tips."""
    rng = np.random.default_rng(seed)
    t0 = 1700000000.0
    for k in range(n):
        m = msgs.JointState()
        m.name = [f"j2s7s300_joint_{i}" for i in range(1, 8)] + [f"j2s7s300_joint_finger_{i}" for i in range(1, 4)] + \
            [f"j2s7s300_joint_finger_tip_{i}" for i in range(1, 4)]
        m.position = list(rng.uniform(0.5, 5.8, 7)) + list(rng.uniform(0, 1.3, 3)) + [0.0] * 3
        m.velocity = list(rng.normal(0, 0.3, 7)) + [0.0] * 6
        m.effort = list(rng.normal(0, 5, 7)) + [0.0] * 6
        t = t0 + 0.01 * k
        m.header.stamp.sec, m.header.stamp.nanosec = int(t), int(round((t - int(t)) * 1e9))
        yield m


def test_state_round_trip(core):
    for m in _stream(core):
        st = core.state(m)
        back = core.vendor_state(st)
        idx = [m.name.index(n) for n in back.name]
        assert np.allclose(back.position, np.asarray(m.position)[idx], atol=1e-12)
        assert np.allclose(back.velocity[:7], np.asarray(m.velocity)[idx[:7]])
        assert np.allclose(back.effort[:7], np.asarray(m.effort)[idx[:7]])
        assert back.header.stamp.sec == m.header.stamp.sec and abs(back.header.stamp.nanosec - m.header.stamp.nanosec) < 1000


def test_state_is_in_the_contract_convention(core):
    m = next(_stream(core))
    st = core.state(m)
    q_k = np.asarray(m.position[:7])
    assert np.allclose(st.q, -(q_k - np.array([0] + [math.pi] * 6)))
    assert np.allclose(st.qd, -np.asarray(m.velocity[:7])) and np.allclose(st.effort, -np.asarray(m.effort[:7]))
    assert np.allclose(st.gripper_q, m.position[7:10])


def test_command_round_trip_through_jointtorque(core):
    rng = np.random.default_rng(1)
    robot = core.robot
    for _ in range(20):
        q = rng.uniform(-2, 2, 7)
        tau = rng.uniform(-robot.effort_limit, robot.effort_limit)
        msg = core.torque(tau, q)
        assert all(isinstance(getattr(msg, f), float) for f in FIELDS)
        # the firmware adds gravity: the message carries the rest, in Kinova's sense
        assert np.allclose([getattr(msg, f) for f in FIELDS], -(tau - G - 0.1 * np.sin(q)), atol=1e-4)
        assert np.allclose(core.contract_torque(msg, q), tau, atol=1e-4)     # float32 on the wire
        v = rng.uniform(-0.6, 0.6, 7)
        vm = core.velocity(v)
        assert np.allclose([getattr(vm, f) for f in FIELDS], -np.degrees(v), atol=1e-4)    # deg/s
        assert np.allclose(core.contract_velocity(vm), v, atol=1e-6)


@pytest.mark.parametrize("spoil, why", [
    (lambda m: m.position.__setitem__(2, float("nan")), "NaN"),
    (lambda m: m.position.pop(), "positions for"),
    (lambda m: m.velocity.pop(), "sizes"),
    (lambda m: m.name.__setitem__(0, "j2n6s300_joint_1"), "unknown joint name"),
    (lambda m: (m.name.pop(3), m.position.pop(3), m.velocity.pop(3), m.effort.pop(3)), "missing"),
    (lambda m: m.name.__setitem__(1, m.name[0]), "unknown|twice|missing"),
])
def test_bad_states_are_refused_naming_why(core, spoil, why):
    m = next(_stream(core))
    spoil(m)
    with pytest.raises(Refused, match=why):
        core.state(m)


def test_a_stale_or_repeated_stamp_is_refused(core):
    a, b = list(_stream(core, 2))
    core.state(b)
    with pytest.raises(Refused, match="not after"):
        core.state(a)
    with pytest.raises(Refused, match="not after"):
        core.state(b)


# Kinova's j2s7s300 chain as its description gives it (../shared/facts/jaco2.md, from
# Kinovarobotics/kinova-ros kinova_description/urdf/j2s7s300.xacro): parent -> joint frame, each
# joint about its own z.
KINOVA = [((0, 0, 0.15675), (0, math.pi, 0)), ((0, 0.0016, -0.11875), (-math.pi / 2, 0, math.pi)),
          ((0, -0.205, 0), (-math.pi / 2, 0, 0)), ((0, 0, -0.205), (math.pi / 2, 0, math.pi)),
          ((0, 0.2073, -0.0114), (-math.pi / 2, 0, math.pi)), ((0, 0, -0.10375), (math.pi / 2, 0, math.pi)),
          ((0, 0.10375, 0), (-math.pi / 2, 0, math.pi))]
KINOVA_EE = ((0, 0, -0.16), (math.pi, 0, 0))


def _tf(xyz, rpy=(0, 0, 0), axis=None, angle=0.0):
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()
    m[:3, 3] = xyz
    if axis is not None:
        r = np.eye(4)
        r[:3, :3] = Rotation.from_rotvec(np.asarray(axis, float) * angle).as_matrix()
        m = m @ r
    return m


def _chain_ours(q):
    root = ET.parse(load_robot("jaco").urdf_path).getroot()
    joints = {j.get("name"): j for j in root.iter("joint")}
    m, pts = np.eye(4), []
    for i in range(7):
        j = joints[f"joint_{i + 1}"]
        o = j.find("origin")
        m = m @ _tf([float(v) for v in o.get("xyz").split()], [float(v) for v in o.get("rpy").split()],
                    [float(v) for v in j.find("axis").get("xyz").split()], q[i])
        pts.append(m[:3, 3])
    o = joints["end_effector_fixed"].find("origin")
    m = m @ _tf([float(v) for v in o.get("xyz").split()], [float(v) for v in o.get("rpy").split()])
    return np.array(pts + [m[:3, 3]]), m[:3, :3]


def _chain_kinova(qk):
    m, pts = np.eye(4), []
    for (xyz, rpy), a in zip(KINOVA, qk):
        m = m @ _tf(xyz, rpy, (0, 0, 1), a)
        pts.append(m[:3, 3])
    m = m @ _tf(*KINOVA_EE)
    return np.array(pts + [m[:3, 3]]), m[:3, :3]


def test_the_mapping_makes_kinova_s_kinematics_ours(core):
    """q = sign (q_kinova - offset): every joint origin and the end-effector frame coincide."""
    rng = np.random.default_rng(2)
    for _ in range(10):
        q = rng.uniform(-2, 2, 7)
        p_ours, r_ours = _chain_ours(q)
        p_k, r_k = _chain_kinova(core.q_to_vendor(q))
        assert np.allclose(p_ours, p_k, atol=1e-9) and np.allclose(r_ours, r_k, atol=1e-9)
