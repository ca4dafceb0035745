"""Controller node: desired joint state (50 Hz) + measured state (500 Hz) -> joint torques.

`mode` picks the law (control/modes.py): computed_torque (the nominal-model baseline),
local_linear, nn_prior_lqr, inverse_dynamics; `checkpoint` overrides the learned modes' default
under models/ROBOT/. The desired point is extrapolated to the state's stamp with its velocity
(for at most two policy periods), so a 50 Hz reference drives a 500 Hz loop smoothly. Without a
fresh desired state it holds the last one. Output goes to the safety filter, never straight to
the driver. /diagnostics (1 Hz) carries the mode and its status (fallbacks, limits).
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.control.modes import MODES, make_mode
from sim2real.control.reference import Desired
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATEST

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "mode": ("computed_torque", f"controller mode: {' | '.join(MODES)}"),
    "checkpoint": ("", "learned modes: checkpoint path (default models/ROBOT/<mode's model>.pt)"),
    "desired_timeout_s": (0.5, "a desired state older than this is held, not extrapolated"),
}


class ControllerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("controller", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.law = make_mode(p.mode, self.robot, p.checkpoint or None)   # ConfigError names the problem
        self.state_map = convert.JointMap(self.robot.joint_names)
        self.desired_map = convert.JointMap(self.robot.joint_names)
        self.q_d = self.qd_d = None
        self.t_d = 0.0
        self.horizon = 2.0 / self.robot.policy_rate_hz
        self.commands, self.rejected = 0, 0
        self.pub = self.create_publisher(Float64MultiArray, "/controller/effort", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(JointState, "/controller/desired", self._on_desired, 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, LATEST)
        self.create_timer(1.0, self._diagnostics)

    def _on_desired(self, msg: JointState) -> None:
        q, qd, problem = self.desired_map.extract(msg)
        if problem:
            self.get_logger().error(f"ignored desired state: {problem}", throttle_duration_sec=1.0)
            return
        self.q_d, self.qd_d, self.t_d = q, qd, convert.from_time(msg.header.stamp)

    def _on_state(self, msg: JointState) -> None:
        q, qd, problem = self.state_map.extract(msg)
        if problem:
            self.rejected += 1
            self.get_logger().error(f"ignored joint state: {problem}", throttle_duration_sec=1.0)
            return   # no command: the safety filter's watchdog holds the arm
        t = convert.from_time(msg.header.stamp)
        if self.q_d is None:      # nothing asked yet: hold here
            self.q_d, self.qd_d, self.t_d = q.copy(), np.zeros_like(q), t
        age = t - self.t_d
        if 0.0 <= age <= self.horizon:
            d = Desired(self.q_d + self.qd_d * age, self.qd_d)
        elif age > self.p.desired_timeout_s:
            d = Desired(self.q_d, np.zeros_like(q))
        else:
            d = Desired(self.q_d + self.qd_d * np.clip(age, 0.0, self.horizon), self.qd_d)
        tau = self.law.command(t, q, qd, d, self.state_map.effort(msg))
        self.commands += 1
        self.pub.publish(convert.effort_command(tau))

    def _diagnostics(self) -> None:
        st = DiagnosticStatus(name="sim2real/controller", hardware_id=self.robot.name)
        status = getattr(self.law, "status", "ok")
        st.level = DiagnosticStatus.OK if status == "ok" else DiagnosticStatus.WARN
        st.message = f"{self.p.mode}: {status}"
        st.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ("mode", self.p.mode), ("status", status), ("commands", self.commands),
            ("rejected_states", self.rejected))]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)
