"""The Unitree core on synthetic unitree_ros2 streams: LowState in, LowCmd (with its CRC) out;
round trips, the CRC against an independent implementation, refusals."""
import struct

import numpy as np
import pytest

from sim2real.hardware import load_hardware, msgs
from sim2real.hardware.base import Refused
from sim2real.hardware.unitree import LOWCMD_FORMAT, POS_STOP_F, UnitreeGo, crc32_core, lowcmd_bytes, lowcmd_crc
from sim2real.robots import load_robot


@pytest.fixture
def core():
    robot = load_robot("go1")
    return UnitreeGo(robot, load_hardware(robot))


def _stream(n=10, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(n):
        m = msgs.LowState()
        for s in range(12):
            m.motor_state[s].q, m.motor_state[s].dq, m.motor_state[s].tau_est = (float(np.float32(v)) for v in rng.normal(0, 1, 3))
        m.imu_state.quaternion = [1.0, 0.0, 0.0, 0.0]
        m.imu_state.gyroscope = list(rng.normal(0, 0.1, 3))
        m.imu_state.accelerometer = [0.0, 0.0, 9.81]
        m.tick = 1000 + 2 * k          # ms
        yield m


def test_state_round_trip_in_sdk_order(core):
    for k, m in enumerate(_stream()):
        st = core.state(m, stamp=10.0 + 0.002 * k)
        assert np.array_equal(st.q, [m.motor_state[s].q for s in range(12)])   # config order = SDK order
        back = core.vendor_state(st, m.tick)
        for s in range(12):
            assert (back.motor_state[s].q, back.motor_state[s].dq, back.motor_state[s].tau_est) == \
                (m.motor_state[s].q, m.motor_state[s].dq, m.motor_state[s].tau_est)
        quat, gyro, acc = core.imu(m)
        assert quat[0] == 1.0 and acc[2] == pytest.approx(9.81)


def test_lowcmd_carries_targets_and_the_robot_s_gains(core):
    robot = core.robot
    msg = core.command(robot.home)
    assert msg.head == [0xFE, 0xEF] and msg.level_flag == 0xFF
    for k in range(12):
        m = msg.motor_cmd[k]
        assert (m.mode, m.dq, m.tau) == (1, 0.0, 0.0)
        assert m.kp == pytest.approx(robot.pd_kp[k]) and m.kd == pytest.approx(robot.pd_kd[k])
    for m in msg.motor_cmd[12:]:
        assert m.mode == 0 and m.q == POS_STOP_F and m.kp == m.kd == 0.0
    assert len(lowcmd_bytes(msg)) == 812 and struct.calcsize(LOWCMD_FORMAT) == 812
    assert msg.crc == lowcmd_crc(msg)
    assert np.allclose(core.contract_command(msg), robot.home, atol=1e-6)


def _crc_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2, bytewise (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no xorout)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def test_crc_is_unitree_s():
    assert _crc_mpeg2(b"123456789") == 0x0376E6E7          # the catalogue's check value
    # Unitree's word-wise CRC is MPEG-2 over each 32-bit word, most significant byte first
    words = [0x31323334, 0xDEADBEEF, 0, 0xFFFFFFFF]
    assert crc32_core(words) == _crc_mpeg2(b"".join(w.to_bytes(4, "big") for w in words))


def test_a_tampered_lowcmd_is_refused(core):
    msg = core.command(core.robot.home)
    msg.motor_cmd[3].q += 0.5                       # the CRC no longer matches
    with pytest.raises(Refused, match="crc"):
        core.contract_command(msg)
    msg = core.command(core.robot.home)
    msg.motor_cmd[0].kp = 200.0
    msg.crc = lowcmd_crc(msg)
    with pytest.raises(Refused, match="gains"):
        core.contract_command(msg)


@pytest.mark.parametrize("spoil, why", [
    (lambda m: setattr(m.motor_state[4], "q", float("nan")), "NaN"),
    (lambda m: m.motor_state.pop(), "19 motor states"),
    (lambda m: setattr(m.imu_state, "gyroscope", [0.0, float("nan"), 0.0]), "NaN"),
])
def test_bad_states_are_refused(core, spoil, why):
    m = next(_stream())
    spoil(m)
    with pytest.raises(Refused, match=why):
        core.state(m, 1.0)
        core.imu(m)


def test_a_repeated_tick_is_refused(core):
    a, b = list(_stream(2))
    core.state(a, 1.0)
    b.tick = a.tick
    with pytest.raises(Refused, match="tick"):
        core.state(b, 1.002)
