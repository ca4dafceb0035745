"""Controller node: desired joint state (50 Hz) + measured state (500 Hz) -> joint torques.

mode=computed_torque is the classical baseline with the nominal model. The desired point is
extrapolated to the state's stamp with its velocity (for at most two policy periods), so a 50 Hz
reference drives a 500 Hz loop smoothly. Without a fresh desired state it holds the last one.
Output goes to the safety filter, never straight to the driver.
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATEST

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "mode": ("computed_torque", "controller mode: computed_torque (the nominal-model baseline)"),
    "desired_timeout_s": (0.5, "a desired state older than this is held, not extrapolated"),
}
MODES = {"computed_torque": ComputedTorque}


class ControllerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("controller", **kwargs)
        p = self.p = declare(self, PARAMS)
        if p.mode not in MODES:
            raise ValueError(f"controller: unknown mode {p.mode!r} (known: {', '.join(MODES)})")
        self.robot = load_robot(p.robot)
        self.law = MODES[p.mode](NominalModel(self.robot))
        self.state_map = convert.JointMap(self.robot.joint_names)
        self.desired_map = convert.JointMap(self.robot.joint_names)
        self.q_d = self.qd_d = None
        self.t_d = 0.0
        self.horizon = 2.0 / self.robot.policy_rate_hz
        self.pub = self.create_publisher(Float64MultiArray, "/controller/effort", 10)
        self.create_subscription(JointState, "/controller/desired", self._on_desired, 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, LATEST)

    def _on_desired(self, msg: JointState) -> None:
        q, qd, problem = self.desired_map.extract(msg)
        if problem:
            self.get_logger().error(f"ignored desired state: {problem}", throttle_duration_sec=1.0)
            return
        self.q_d, self.qd_d, self.t_d = q, qd, convert.from_time(msg.header.stamp)

    def _on_state(self, msg: JointState) -> None:
        q, qd, problem = self.state_map.extract(msg)
        if problem:
            self.get_logger().error(f"ignored joint state: {problem}", throttle_duration_sec=1.0)
            return   # no command: the safety filter's watchdog holds the arm
        t = convert.from_time(msg.header.stamp)
        if self.q_d is None:      # nothing asked yet: hold here
            self.q_d, self.qd_d, self.t_d = q.copy(), np.zeros_like(q), t
        age = t - self.t_d
        if 0.0 <= age <= self.horizon:
            q_ref, qd_ref = self.q_d + self.qd_d * age, self.qd_d
        elif age > self.p.desired_timeout_s:
            q_ref, qd_ref = self.q_d, np.zeros_like(q)
        else:
            q_ref, qd_ref = self.q_d + self.qd_d * np.clip(age, 0.0, self.horizon), self.qd_d
        self.pub.publish(convert.effort_command(self.law.torque(q, qd, q_ref, qd_ref)))
