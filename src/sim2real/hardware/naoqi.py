"""Softbank NAO through naoqi_driver2 (config/hardware/nao.yaml names the topics; its header cites
the driver's interface).

Field-by-field mapping (NAOqi joint names are the robot config's names; sign 1, offset 0 unless
the config says otherwise):

  state  /joint_states of naoqi_driver (sensor_msgs/JointState, remapped to topics.joint_states)
    position[name]        rad   -> q of that joint
    velocity[name]        rad/s -> qd (zeros where the driver sends none)
    effort[name]                   motor current, not torque: dropped (the robot config says
                                   joint_torque: false, so the contract state has no effort)
    LHand, RHand          dropped (config `ignore`); any other unknown name: refused
    header.stamp          -> the contract stamp
  command  contract joint targets (rad, robot order) -> naoqi_bridge_msgs/JointAnglesWithSpeed
    joint_names           the robot's joints without mimic joints (RHipYawPitch follows
                          LHipYawPitch: one motor; its slot of the contract command is ignored)
    joint_angles          float32 targets, inside the joint ranges (the gate clips them)
    speed                 params.speed, fraction of each joint's maximum speed: ALMotion
                          interpolates there, so one far target cannot jerk a joint
    relative              0 (absolute)
  hold   ALMotion keeps the last target itself: after the deadline nothing is sent.
"""
from __future__ import annotations

import numpy as np

from sim2real.hardware import msgs
from sim2real.hardware.base import ContractState, NamedJoints, Refused, VendorAdapter, finite


class Naoqi(VendorAdapter):
    def __init__(self, robot, hw):
        super().__init__(robot, hw)
        self.names = NamedJoints(hw, robot)
        self.speed = hw.param("speed", float, 0.2)
        if not 0.0 < self.speed <= 1.0:
            raise ValueError(f"{hw.path}.params.speed: a fraction in (0, 1], got {self.speed}")
        names = robot.joint_names
        # commanded slots: every joint with a motor of its own
        self.commanded = np.array([i for i, jn in enumerate(names) if jn not in robot.mimic])
        self.mimic = {names.index(j): (names.index(lead), mult, off) for j, (lead, mult, off) in robot.mimic.items()}

    def state(self, msg) -> ContractState:
        idx, _, pos, vel, _ = self.names.read(msg)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        return ContractState(stamp=self.in_order(stamp), q=self.q_to_contract(pos[idx]),
                             qd=self.rate_to_contract(vel[idx]), effort=None)

    def vendor_state(self, st: ContractState, msg=None):
        msg = msg or msgs.JointState()
        msg.name = list(self.hw.vendor_names)
        msg.position = list(self.q_to_vendor(st.q))
        msg.velocity = list(self.rate_to_vendor(st.qd))
        msg.effort = []
        msg.header.stamp.sec = int(st.stamp)
        msg.header.stamp.nanosec = int(round((st.stamp - int(st.stamp)) * 1e9))
        return msg

    def command(self, targets, msg=None):
        """Gated contract targets (rad, robot order) -> JointAnglesWithSpeed."""
        v = self.q_to_vendor(targets)[self.commanded]
        msg = msg or msgs.JointAnglesWithSpeed()
        msg.joint_names = [self.hw.vendor_names[i] for i in self.commanded]
        msg.joint_angles = [float(np.float32(x)) for x in v]
        msg.speed = float(np.float32(self.speed))
        msg.relative = 0
        return msg

    def contract_command(self, msg) -> np.ndarray:
        """The inverse of command(): contract targets, mimic joints following their leader."""
        if msg.relative != 0:
            raise Refused("relative joint angles are not a target")
        idx, _ = self.names.indices(list(msg.joint_names) + [self.hw.vendor_names[i] for i in self.mimic])
        angles = finite(msg.joint_angles, "joint_angles")
        if angles.size != len(msg.joint_names):
            raise Refused(f"{angles.size} angles for {len(msg.joint_names)} names")
        full = np.zeros(len(msg.joint_names) + len(self.mimic))
        full[:angles.size] = angles
        q = self.q_to_contract(full[idx])
        for j, (lead, mult, off) in self.mimic.items():
            q[j] = mult * q[lead] + off
        return q
