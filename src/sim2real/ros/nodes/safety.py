"""Safety filter node, the last node before the driver; never bypassed.

/controller/effort -> limits, NaN guard -> /effort_controller/commands. Exactly one command per
joint state: a command answers the latest state; if no command has come for `watchdog_s` (in
state stamps, so it works in lockstep and real time alike), or /teleop/lock is set, it answers
with the damped hold instead.
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from sim2real.control.safety import SafetyFilter
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATEST

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "watchdog_s": (-1.0, "no command for this long (state time) -> damped hold; <0 = robot config"),
}


class SafetyNode(Node):
    def __init__(self, **kwargs):
        super().__init__("safety_filter", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.filter = SafetyFilter(self.robot)
        self.watchdog = p.watchdog_s if p.watchdog_s >= 0 else self.robot.safety.watchdog_s
        self.map = convert.JointMap(self.robot.joint_names)
        self.q = self.qd = None
        self.t_state = self.t_cmd = None
        self.served = True
        self.locked = False
        self.mode = "waiting"
        self.reasons: dict[str, int] = {}
        self.pub = self.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, LATEST)
        self.create_subscription(Float64MultiArray, "/controller/effort", self._on_command, LATEST)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(Bool, "/teleop/lock", self._on_lock, latched)
        self.create_timer(1.0, self._diagnostics)

    def _on_lock(self, msg: Bool) -> None:
        if msg.data and not self.locked:
            self.get_logger().warning("teleop lock set: holding")
        self.locked = bool(msg.data)

    def _on_state(self, msg: JointState) -> None:
        q, qd, problem = self.map.extract(msg)
        t = convert.from_time(msg.header.stamp)
        if problem or (self.t_state is not None and t < self.t_state):
            self._count(problem or "out-of-order state stamp")
            return
        self.q, self.qd, self.t_state, self.served = q, qd, t, False
        if self.t_cmd is None:
            self.t_cmd = t     # the watchdog starts with the first state
        if self.locked:
            self._send(self.filter.hold(q, qd), "hold (lock)")
        elif t - self.t_cmd > self.watchdog:
            self._send(self.filter.hold(q, qd), "hold (watchdog)")

    def _on_command(self, msg: Float64MultiArray) -> None:
        if self.q is None:
            return
        self.t_cmd = self.t_state
        if self.served:       # this state was answered already (hold or an earlier command)
            return
        if self.locked:
            return
        tau, reasons = self.filter.filter(np.asarray(msg.data, float), self.q, self.qd)
        for r in reasons:
            self._count(r)
        held = any("NaN" in r or "values" in r for r in reasons)
        self._send(tau, "hold (bad command)" if held else "pass")

    def _send(self, tau, mode: str) -> None:
        self.served = True
        if mode != self.mode:
            if mode == "pass":
                self.get_logger().info("safety: pass")
            else:
                self.get_logger().warning(f"safety: {mode}")
            self.mode = mode
        self.pub.publish(convert.effort_command(tau))

    def _count(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.get_logger().warning(f"safety: {reason}", throttle_duration_sec=1.0)

    def _diagnostics(self) -> None:
        st = DiagnosticStatus(name="sim2real/safety_filter", hardware_id=self.robot.name)
        st.level = DiagnosticStatus.OK if self.mode == "pass" else DiagnosticStatus.WARN
        st.message = self.mode
        st.values = [KeyValue(key=k, value=str(v)) for k, v in self.reasons.items()]
        self.pub_diag.publish(DiagnosticArray(status=[st]))
