"""Kinova Jaco 2 through kinova-ros's `kinova_driver` (config/hardware/jaco.yaml says which topics,
names, signs and offsets; the config's header cites the driver's interface).

Field-by-field mapping (robot joint k <-> Kinova joint k of the config; s sign, o offset):

  state  out/joint_state (sensor_msgs/JointState), by name
    position[<type>_joint_k]        rad, Kinova zeros  -> q_k   = s_k (position - o_k)
    velocity[<type>_joint_k]        rad/s              -> qd_k  = s_k velocity
    effort[<type>_joint_k]          N m (torque sensor) -> effort_k = s_k effort
    position[<type>_joint_finger_i] rad                -> gripper finger_joint_i (as reported)
    <type>_joint_finger_tip_i       dropped (config `ignore`); any other name: refused
    header.stamp                    -> the contract stamp (the driver stamps it when read)
  command  contract torque tau (N m, robot order) -> in/joint_torque (kinova_msgs/JointTorque)
    jointk = s_k (tau_k - g_k(q))   g: the nominal model's gravity torque, which the Jaco 2 firmware
                                    adds itself in torque mode (params.firmware_gravity_compensation)
  hold   params.hold = position_mode: out of torque mode (SetTorqueControlMode state 0) and zero
         joint velocities on in/joint_velocity (kinova_msgs/JointVelocity, deg/s): the arm's own
         position hold; = torque: the twin's damped PD in torque mode (gravity from the firmware).
"""
from __future__ import annotations

import math

import numpy as np

from sim2real.hardware import msgs
from sim2real.hardware.base import ContractState, NamedJoints, VendorAdapter, finite

FIELDS = tuple(f"joint{k}" for k in range(1, 8))   # kinova_msgs/JointTorque, JointVelocity, JointAngles
HOLDS = ("position_mode", "torque")


def _stamp(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class KinovaJaco2(VendorAdapter):
    def __init__(self, robot, hw, gravity=None):
        """gravity: q (n,) rad -> (n,) N m, the nominal model's gravity torque (needed when the
        firmware compensates gravity itself; the node passes control.nominal_model's)."""
        super().__init__(robot, hw)
        if self.n != len(FIELDS):
            raise ValueError(f"kinova_msgs carry 7 joints, robot '{robot.name}' has {self.n}")
        self.names = NamedJoints(hw, robot)
        self.firmware_gravity = hw.param("firmware_gravity_compensation", bool, True)
        self.hold_mode = hw.param("hold", str, "position_mode")
        if self.hold_mode not in HOLDS:
            raise ValueError(f"{hw.path}.params.hold: one of {', '.join(HOLDS)}, got {self.hold_mode!r}")
        if self.firmware_gravity and gravity is None:
            raise ValueError("firmware_gravity_compensation needs the nominal model's gravity")
        self.gravity = gravity or (lambda q: np.zeros(self.n))

    # ---- state ----
    def state(self, msg) -> ContractState:
        idx, gidx, pos, vel, eff = self.names.read(msg, with_effort=True)
        return ContractState(
            stamp=self.in_order(_stamp(msg.header)), q=self.q_to_contract(pos[idx]), qd=self.rate_to_contract(vel[idx]),
            effort=None if eff is None else self.rate_to_contract(eff[idx]),
            gripper_q=np.array([pos[i] if i is not None else 0.0 for i in gidx]))

    def vendor_state(self, st: ContractState, msg=None):
        msg = msg or msgs.JointState()
        names = list(self.hw.vendor_names) + [self.hw.grippers[g] for g in self.robot.gripper_joints
                                              if g in self.hw.grippers]
        k = len(names) - self.n
        msg.name = names
        msg.position = [*self.q_to_vendor(st.q), *st.gripper_q[:k]]
        msg.velocity = [*self.rate_to_vendor(st.qd), *[0.0] * k]
        msg.effort = [*self.rate_to_vendor(st.effort if st.effort is not None else np.zeros(self.n)), *[0.0] * k]
        msg.header.stamp.sec = int(math.floor(st.stamp))
        msg.header.stamp.nanosec = int(round((st.stamp - math.floor(st.stamp)) * 1e9))
        return msg

    # ---- commands ----
    def torque(self, tau, q, msg=None):
        """A contract torque (N m, robot order, already gated) -> kinova_msgs/JointTorque."""
        t = np.asarray(tau, float) - (self.gravity(np.asarray(q, float)) if self.firmware_gravity else 0.0)
        msg = msg or msgs.JointTorque()
        for f, v in zip(FIELDS, self.rate_to_vendor(t)):
            setattr(msg, f, float(np.float32(v)))
        return msg

    def contract_torque(self, msg, q) -> np.ndarray:
        """The inverse of torque(): the contract torque a JointTorque carries at pose q."""
        t = self.rate_to_contract(finite([getattr(msg, f) for f in FIELDS], "JointTorque"))
        return t + (self.gravity(np.asarray(q, float)) if self.firmware_gravity else 0.0)

    def velocity(self, qd_rad, msg=None):
        """Joint velocities (rad/s, robot order) -> kinova_msgs/JointVelocity (deg/s)."""
        msg = msg or msgs.JointVelocity()
        for f, v in zip(FIELDS, np.degrees(self.rate_to_vendor(qd_rad))):
            setattr(msg, f, float(np.float32(v)))
        return msg

    def contract_velocity(self, msg) -> np.ndarray:
        return self.rate_to_contract(np.radians(finite([getattr(msg, f) for f in FIELDS], "JointVelocity")))
