"""Controller node: desired joint state (50 Hz) + measured state (500 Hz) -> joint torques.

`mode` picks the law (control/modes.py): computed_torque (the nominal-model baseline),
local_linear, nn_prior_lqr, inverse_dynamics; `checkpoint` overrides the learned modes' default
under models/ROBOT/. The desired point is extrapolated to the state's stamp with its velocity
(for at most two policy periods), so a 50 Hz reference drives a 500 Hz loop smoothly. Without a
fresh desired state it holds the last one. Desired states are clamped to the joint position and
velocity limits before the law sees them (safety/filter.py); stamps of states and desired states
are judged against this node's clock (safety/stamps.py). Output goes to the safety filter, never
straight to the driver. /diagnostics (1 Hz) carries the mode and its status (fallbacks, limits).
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.control.modes import MODES, default_mode, make_mode
from sim2real.control.reference import Desired
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions

CLOCK_EVERY = 10
from sim2real.safety.filter import SafetyFilter
from sim2real.safety.stamps import StampGate

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "mode": ("", f"controller mode: {' | '.join(MODES)}; empty = the robot's baseline"),
    "checkpoint": ("", "learned modes: checkpoint path (default models/ROBOT/<mode's model>.pt)"),
    "desired_timeout_s": (0.5, "a desired state older than this is held, not extrapolated"),
    "state_source": ("driver", "the only node whose /joint_states are taken"),
    "desired_source": ("teleop_mux", "the only node whose /controller/desired is taken"),
    "latency_s": (0.0, "adaptive modes: the loop's measured delay, s (state + command transport + actuator "
                       "lag, e.g. from the doctor), compensated by predicting the state over it"),
    "actuator_lag_s": (0.0, "adaptive modes: the actuators' first-order lag, s, when known apart (latency_s is "
                            "then the transport alone): the prediction filters the torques through it"),
}


class ControllerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("controller", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.mode = p.mode or default_mode(self.robot)
        self._events_logged = 0
        self.law = make_mode(self.mode, self.robot, p.checkpoint or None,   # ConfigError names the problem
                             latency_s=p.latency_s, lag_s=p.actuator_lag_s)   # adaptive: guarded (control/guard.py)
        self.reader = convert.JointStateReader(self.robot.joint_names)   # states arrive serialized
        self.state_map = self.reader.map
        self.desired_reader = convert.JointStateReader(self.robot.joint_names)
        self.q_d = self.qd_d = None
        self.t_d = 0.0
        self.horizon = 2.0 / self.robot.policy_rate_hz
        self.commands, self.rejected = 0, 0
        self.limits = SafetyFilter(self.robot)
        self.state_gate, self.desired_gate = StampGate(), StampGate(ordered=False)   # desired: the mux merges sources
        self.problems: dict[str, int] = {}
        self._calls, self._clock_s = 0, 0.0
        self.pub = self.create_publisher(Float64MultiArray, self.robot.controller_topic, 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # one thread, states first; strangers on either topic are refused (safety/source.py)
        self.sourced = SourcedSubscriptions(self)
        refused = lambda who: self._problem(f"refused input from {who}")   # noqa: E731
        # raw: the driver's steady stream is read in place (convert.JointStateReader), no message built
        self.sourced.add_from(p.state_source, JointState, "/joint_states", self._on_state, refused, raw=True)
        self.sourced.add_from(p.desired_source, JointState, "/controller/desired", self._on_desired, refused, raw=True)
        self.create_timer(1.0, self._diagnostics)

    def _now(self) -> float:
        """The node's clock, read every CLOCK_EVERY calls (rclpy's now() costs ~9 us; the stamp
        gates' bounds are 50 ms and more, a state period old is close enough)."""
        self._calls += 1
        if self._calls % CLOCK_EVERY == 1:
            self._clock_s = self.get_clock().now().nanoseconds * 1e-9
        return self._clock_s

    def _problem(self, what: str) -> None:
        self.problems[what] = self.problems.get(what, 0) + 1
        self.get_logger().error(what, throttle_duration_sec=1.0)

    def _on_desired(self, data: bytes) -> None:
        t, q, qd, _, problem = self.desired_reader.read(data)
        problem = problem or self.desired_gate.check(t, self._now())
        if problem:
            self._problem(f"ignored desired state: {problem}")
            return
        q, qd, clamped = self.limits.clamp_desired(q, qd)
        if clamped:
            self._problem("desired state clamped to the joint limits")
        self.q_d, self.qd_d, self.t_d = q, qd, t

    def _on_state(self, data: bytes) -> None:
        t, q, qd, effort, problem = self.reader.read(data)
        problem = problem or self.state_gate.check(t, self._now())
        if problem:
            self.rejected += 1
            self._problem(f"ignored joint state: {problem}")
            return   # no command: the safety filter's watchdog holds the arm
        if self.q_d is None:      # nothing asked yet: hold here
            self.q_d, self.qd_d, self.t_d = q.copy(), np.zeros_like(q), t
        age = t - self.t_d
        if 0.0 <= age <= self.horizon:
            d = Desired(self.q_d + self.qd_d * age, self.qd_d)
        elif age > self.p.desired_timeout_s:
            d = Desired(self.q_d, np.zeros_like(q))
        else:
            d = Desired(self.q_d + self.qd_d * np.clip(age, 0.0, self.horizon), self.qd_d)
        # (the extrapolation is not clamped again: it runs at most two policy periods at a clamped
        # velocity, 0.025 rad for the Jaco, inside the filter's 0.05 rad margin)
        tau = self.law.command(t, q, qd, d, effort)
        self.commands += 1
        self.pub.publish(convert.effort_command_cdr(tau))

    def _diagnostics(self) -> None:
        events = getattr(self.law, "events", ())      # the guard's hand-overs, to the terminal too
        for t, what in events[self._events_logged:]:
            self.get_logger().warning(f"{self.mode} guard at t={t:.2f} s: {what}")
        self._events_logged = len(events)
        st = DiagnosticStatus(name="sim2real/controller", hardware_id=self.robot.name)
        status = getattr(self.law, "status", "ok")
        problems, self.problems = self.problems, {}
        st.level = DiagnosticStatus.OK if status == "ok" and not problems else DiagnosticStatus.WARN
        st.message = f"{self.mode}: {status}" + "".join(f"; {k} ({v}x)" for k, v in problems.items())
        st.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ("mode", self.mode), ("status", status), ("commands", self.commands),
            ("rejected_states", self.rejected), *problems.items())]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
