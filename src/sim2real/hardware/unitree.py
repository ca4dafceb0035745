"""Unitree quadrupeds through unitree_ros2's low-level messages (config/hardware/go1.yaml names the
topics and motor slots; its header cites the interface).

Field-by-field mapping (robot joint k <-> motor slot m_k of the config, SDK order FR, FL, RR, RL):

  state  unitree_go/LowState
    motor_state[m_k].q        rad   -> q_k   = s_k (q - o_k)
    motor_state[m_k].dq       rad/s -> qd_k  = s_k dq
    motor_state[m_k].tau_est  N m   -> effort_k = s_k tau_est (the firmware's estimate from current)
    imu_state.quaternion      (w, x, y, z), gyroscope rad/s, accelerometer m/s^2 -> /imu/data
    tick                      ms counter: the message has no header; a tick that does not advance
                              is refused; the contract stamp is the receive time
  command  contract PD targets (rad, robot order) -> unitree_go/LowCmd
    head [0xFE, 0xEF], level_flag 0xFF (low level), gpio 0
    motor_cmd[m_k]: mode 0x01, q = s_k target_k + o_k, dq 0, tau 0, kp = stiffness_k,
                    kd = damping_k (RobotSpec.pd_kp / pd_kd: the gains the firmware's PD runs)
    other slots: mode 0x00, q PosStopF, dq VelStopF, gains 0 (Unitree's "no position / velocity
                 control" sentinels)
    crc: crc32_core over the 812-byte C struct without its last word (lowcmd_crc below)
  hold   the last target accepted, with the same gains (the twin's hold of PD-target robots).
"""
from __future__ import annotations

import struct

import numpy as np

from sim2real.hardware import msgs
from sim2real.hardware.base import ContractState, Refused, VendorAdapter, finite

HEAD = (0xFE, 0xEF)
LOWLEVEL = 0xFF
SERVO = 0x01
POS_STOP_F = 2.146e9      # unitree_legged_sdk / unitree_ros2 examples: "no position control"
VEL_STOP_F = 16000.0      # "no velocity control"
N_MOTORS = 20
# the C struct the CRC covers: 4-byte aligned, little endian, 812 bytes (unitree_ros2 motor_crc.h;
# unitree_sdk2_python utils/crc.py uses the same format)
LOWCMD_FORMAT = "<4B4IH2x" + "B3x5f3I" * N_MOTORS + "4B" + "55Bx2I"


def crc32_core(words) -> int:
    """Unitree's CRC-32: polynomial 0x04C11DB7, initial 0xFFFFFFFF, MSB first, no final xor,
    over 32-bit words."""
    crc = 0xFFFFFFFF
    poly = 0x04C11DB7
    for data in words:
        xbit = 1 << 31
        for _ in range(32):
            if crc & 0x80000000:
                crc = ((crc << 1) & 0xFFFFFFFF) ^ poly
            else:
                crc = (crc << 1) & 0xFFFFFFFF
            if data & xbit:
                crc ^= poly
            xbit >>= 1
    return crc


def lowcmd_bytes(cmd) -> bytes:
    """The LowCmd as the robot's C struct (812 bytes, crc last)."""
    vals = [*cmd.head, cmd.level_flag, cmd.frame_reserve, *cmd.sn, *cmd.version, cmd.bandwidth]
    for m in cmd.motor_cmd:
        vals += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, *m.reserve]
    vals += [cmd.bms_cmd.off, *cmd.bms_cmd.reserve, *cmd.wireless_remote, *cmd.led, *cmd.fan, cmd.gpio,
             cmd.reserve, cmd.crc]
    return struct.pack(LOWCMD_FORMAT, *vals)


def lowcmd_crc(cmd) -> int:
    raw = lowcmd_bytes(cmd)
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    return crc32_core(words[:-1])


class UnitreeGo(VendorAdapter):
    def __init__(self, robot, hw):
        super().__init__(robot, hw)
        slots = [int(s) for s in hw.vendor_names]
        if any(not 0 <= s < N_MOTORS for s in slots):
            raise ValueError(f"{hw.path}.joints: motor slots are 0..{N_MOTORS - 1}")
        self.slots = np.array(slots)
        self.kp, self.kd = robot.pd_kp, robot.pd_kd
        self._tick: int | None = None

    def state(self, msg, stamp: float) -> ContractState:
        """LowState received at `stamp` (s; it carries no time of its own)."""
        if len(msg.motor_state) != N_MOTORS:
            raise Refused(f"{len(msg.motor_state)} motor states, expected {N_MOTORS}")
        ms = [msg.motor_state[s] for s in self.slots]
        q = finite([m.q for m in ms], "motor q")
        qd = finite([m.dq for m in ms], "motor dq")
        tau = finite([m.tau_est for m in ms], "motor tau_est")
        if self._tick is not None and msg.tick == self._tick:
            raise Refused(f"tick {msg.tick} repeats the previous state's")
        self._tick = msg.tick
        return ContractState(stamp=self.in_order(stamp), q=self.q_to_contract(q), qd=self.rate_to_contract(qd),
                             effort=self.rate_to_contract(tau))

    @staticmethod
    def imu(msg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quat w x y z, gyro rad/s, accel m/s^2) of a LowState; Refused when non-finite."""
        i = msg.imu_state
        return (finite(i.quaternion, "imu quaternion"), finite(i.gyroscope, "imu gyroscope"),
                finite(i.accelerometer, "imu accelerometer"))

    def vendor_state(self, st: ContractState, tick: int, msg=None):
        msg = msg or msgs.LowState()
        qv, dqv = self.q_to_vendor(st.q), self.rate_to_vendor(st.qd)
        tv = self.rate_to_vendor(st.effort if st.effort is not None else np.zeros(self.n))
        for k, s in enumerate(self.slots):
            m = msg.motor_state[s]
            m.q, m.dq, m.tau_est = (float(np.float32(x)) for x in (qv[k], dqv[k], tv[k]))
        msg.tick = int(tick)
        return msg

    def command(self, targets, msg=None):
        """Gated contract PD targets (rad, robot order) -> a LowCmd with its crc."""
        msg = msg or msgs.LowCmd()
        msg.head = list(HEAD)
        msg.level_flag = LOWLEVEL
        msg.gpio = 0
        qv = self.q_to_vendor(targets)
        on = set(self.slots.tolist())
        for s in range(N_MOTORS):
            m = msg.motor_cmd[s]
            if s not in on:
                m.mode, m.q, m.dq, m.tau, m.kp, m.kd = 0x00, POS_STOP_F, VEL_STOP_F, 0.0, 0.0, 0.0
        for k, s in enumerate(self.slots):
            m = msg.motor_cmd[s]
            m.mode = SERVO
            m.q, m.kp, m.kd = (float(np.float32(x)) for x in (qv[k], self.kp[k], self.kd[k]))
            m.dq, m.tau = 0.0, 0.0
        msg.crc = lowcmd_crc(msg)
        return msg

    def contract_command(self, msg) -> np.ndarray:
        """The inverse of command(): the targets a LowCmd carries; Refused when it is not one this
        adapter would send (header, crc, mode, gains)."""
        if list(msg.head) != list(HEAD) or msg.level_flag != LOWLEVEL:
            raise Refused("not a low-level command (head / level_flag)")
        if msg.crc != lowcmd_crc(msg):
            raise Refused("crc does not match")
        ms = [msg.motor_cmd[s] for s in self.slots]
        if any(m.mode != SERVO for m in ms):
            raise Refused("a commanded motor is not in servo mode")
        gains = np.array([[m.kp, m.kd] for m in ms])
        if not np.allclose(gains, np.stack([self.kp, self.kd], 1).astype(np.float32), rtol=1e-6):
            raise Refused("gains differ from the robot's joint PD")
        return self.q_to_contract(finite([m.q for m in ms], "motor q"))
