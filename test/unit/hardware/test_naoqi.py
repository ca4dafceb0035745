"""The NAO core on synthetic naoqi_driver2 streams: /joint_states (26 joints with the hands) in,
JointAnglesWithSpeed out; round trips and refusals."""
import numpy as np
import pytest

from sim2real.hardware import load_hardware, msgs
from sim2real.hardware.base import Refused
from sim2real.hardware.naoqi import Naoqi
from sim2real.robots import load_robot

BODY = ["HeadYaw", "HeadPitch", "LShoulderPitch", "LShoulderRoll", "LElbowYaw", "LElbowRoll", "LWristYaw", "LHand",
        "LHipYawPitch", "LHipRoll", "LHipPitch", "LKneePitch", "LAnklePitch", "LAnkleRoll", "RHipYawPitch", "RHipRoll",
        "RHipPitch", "RKneePitch", "RAnklePitch", "RAnkleRoll", "RShoulderPitch", "RShoulderRoll", "RElbowYaw",
        "RElbowRoll", "RWristYaw", "RHand"]   # naoqi_driver's joint_states order (../shared/facts/nao-go1.md, N8)


@pytest.fixture
def core():
    robot = load_robot("nao")
    return Naoqi(robot, load_hardware(robot))


def _stream(n=10, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(n):
        m = msgs.JointState(name=list(BODY), position=list(rng.uniform(-0.3, 0.3, 26)),
                            velocity=list(rng.normal(0, 0.1, 26)), effort=list(rng.uniform(0, 0.5, 26)))
        m.header.stamp.sec, m.header.stamp.nanosec = 100 + k // 50, (k % 50) * 20_000_000   # 50 Hz
        yield m


def test_state_by_name_hands_dropped_no_effort(core):
    for m in _stream():
        st = core.state(m)
        for i, jn in enumerate(core.robot.joint_names):
            assert st.q[i] == m.position[BODY.index(jn)] and st.qd[i] == m.velocity[BODY.index(jn)]
        assert st.effort is None       # naoqi's effort is motor current
        back = core.vendor_state(st)
        assert [back.position[back.name.index(n)] for n in core.robot.joint_names] == list(st.q)


def test_targets_round_trip_and_the_mimic_joint_is_not_sent(core):
    robot = core.robot
    rng = np.random.default_rng(3)
    lead, rhyp = robot.joint_names.index("LHipYawPitch"), robot.joint_names.index("RHipYawPitch")
    for _ in range(10):
        tgt = rng.uniform(robot.position_lower, robot.position_upper)
        tgt[rhyp] = tgt[lead]              # the contract carries it; one motor drives both
        msg = core.command(tgt)
        assert "RHipYawPitch" not in msg.joint_names and len(msg.joint_names) == robot.n - 1
        assert msg.relative == 0 and msg.speed == pytest.approx(0.2)
        assert np.allclose(core.contract_command(msg), tgt, atol=1e-6)


@pytest.mark.parametrize("spoil, why", [
    (lambda m: m.name.__setitem__(7, "LFinger"), "unknown joint name.*LFinger"),
    (lambda m: m.position.__setitem__(0, float("inf")), "NaN"),
    (lambda m: m.position.pop(), "positions for"),
    (lambda m: (m.name.pop(0), m.position.pop(0), m.velocity.pop(0), m.effort.pop(0)), "HeadYaw missing"),
])
def test_bad_states_are_refused(core, spoil, why):
    m = next(_stream())
    spoil(m)
    with pytest.raises(Refused, match=why):
        core.state(m)


def test_relative_or_malformed_commands_are_not_targets(core):
    msg = core.command(core.robot.home)
    msg.relative = 1
    with pytest.raises(Refused, match="relative"):
        core.contract_command(msg)
    msg = core.command(core.robot.home)
    msg.joint_names[0] = "Nose"
    with pytest.raises(Refused, match="unknown joint name"):
        core.contract_command(msg)
