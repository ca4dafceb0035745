"""Safety filter node, the last node before the driver; never bypassed (the driver takes commands
from this node only).

/controller/effort -> limits, NaN guard -> /effort_controller/commands. Every command of the
controller is filtered against the latest state and passed (the driver acts on the newest: a
controller answering a backlog late must not have its fresh answer dropped for the stale one); a
state no command has answered for `watchdog_s` (in state stamps, so it works in lockstep and real
time alike), or any state while the lock is set, is answered with the damped hold instead. States are taken from the driver only (`state_source`) and commands from
the controller only (`command_source`), each pinned by publisher GID as the driver pins this node
(safety/source.py); state stamps are judged against this node's clock (safety/stamps.py): a
foreign or spoofed message cannot stop it, move its hold or pass torques. Both are served by one
thread, states first, so a command never overtakes the state it answers. The lock (/teleop/lock) is obeyed from any publisher and
released only by the publisher that set it or /teleop/lock_reset (safety/lock.py).
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, Float64MultiArray

from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LOCK_QOS
from sim2real.ros.sourced import SourcedSubscriptions
from sim2real.safety.filter import LoopDelay, SafetyFilter
from sim2real.safety.lock import Lock
from sim2real.safety.stamps import StampGate

CLOCK_EVERY = 10

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "watchdog_s": (-1.0, "no command for this long (state time) -> damped hold; <0 = robot config"),
    "max_future_s": (0.5, "a state stamped further ahead of this node's clock is refused"),
    "state_source": ("driver", "the only node whose /joint_states are taken (name or /ns/name)"),
    "command_source": ("controller", "the only node whose /controller/effort is taken (name or /ns/name)"),
    "hold_gravity": (True, "the hold (lock, watchdog, bad command) carries the nominal model's gravity torque, so "
                           "the gains it softens for a slow loop do not let the arm sag; false for a driver "
                           "nobody has vouched for yet (the doctor's graph): a miswired one would get it on the "
                           "wrong joints"),
    "loop_delay_s": (0.0, "the loop's delay, s (state and command transport plus actuator lag, e.g. from the "
                          "doctor): the least the velocity cap and over-speed damper are set for; the filter "
                          "also measures it as it runs (safety/filter.py LoopDelay)"),
}


class SafetyNode(Node):
    def __init__(self, **kwargs):
        super().__init__("safety_filter", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.filter = SafetyFilter(self.robot, loop_delay_s=p.loop_delay_s, model=self._hold_model(p.hold_gravity))
        self.watchdog = p.watchdog_s if p.watchdog_s >= 0 else self.robot.safety.watchdog_s
        self.delay = LoopDelay(p.loop_delay_s, max_age_s=self.watchdog)   # measured as it runs (safety/filter.py)
        self.gate = StampGate(max_future_s=p.max_future_s)
        self.reader = convert.JointStateReader(self.robot.joint_names)   # both inputs arrive serialized
        self.map = self.reader.map
        self.command_reader = convert.Float64ArrayReader()
        self.lock = Lock()
        self.q = self.qd = None
        self.t_state = self.t_cmd = None
        self.mode = "waiting"
        self._calls, self._clock_s = 0, 0.0
        self.reasons: dict[str, int] = {}       # cumulative; diagnostics report what grew
        self._reported: dict[str, int] = {}
        self.states = self.holds = self.passed = 0
        self.pub = self.create_publisher(Float64MultiArray, self.robot.command_topic, 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.sourced = SourcedSubscriptions(self)
        # raw: the steady streams of the driver and the controller are read in place (convert.py)
        self.sourced.add_from(p.state_source, JointState, "/joint_states", self._on_state,
                              lambda who: self._count(f"state refused: from {who}, not {p.state_source}"), raw=True)
        self.sourced.add_from(p.command_source, Float64MultiArray, self.robot.controller_topic, self._on_command,
                              lambda who: self._count(f"command refused: from {who}, not {p.command_source}"),
                              raw=True)
        for qos in LOCK_QOS:
            self.sourced.add(Bool, "/teleop/lock", qos, self._on_lock)
        self.create_subscription(Empty, "/teleop/lock_reset", self._on_reset, 10)
        self.create_timer(1.0, self._diagnostics)

    def _now(self) -> float:
        """The node's clock, read every CLOCK_EVERY states (rclpy's now() costs ~8 us a call)."""
        self._calls += 1
        if self._calls % CLOCK_EVERY == 1:
            self._clock_s = self.get_clock().now().nanoseconds * 1e-9
        return self._clock_s

    def _on_lock(self, msg: Bool, gid: bytes) -> None:
        what = self.lock.update(gid, bool(msg.data))
        if what == "set":
            self.get_logger().warning("teleop lock set: holding")
        elif what == "released":
            self.get_logger().info("teleop lock released")
        elif what:
            self._count(f"lock: {what}")

    def _hold_model(self, on: bool):
        """q -> (gravity torque, joint inertias) of the nominal model, for the hold; None when off
        or for position / PD-target robots (their hold keeps a target)."""
        if not on or self.robot.actuation != "effort":
            return None
        from sim2real.control.nominal_model import NominalModel
        nominal, rest = NominalModel(self.robot), np.zeros(self.robot.n)

        def at(q):
            M, h = nominal.dynamics(q, rest)
            return h, np.diag(M)
        return at

    def _on_reset(self, _msg: Empty) -> None:
        if self.lock.reset():
            self.get_logger().warning("teleop lock reset: every hold released")

    def _on_state(self, data: bytes) -> None:
        t, q, qd, _, problem = self.reader.read(data)
        now = self._now()
        problem = problem or self.gate.check(t, now)
        if problem:
            self._count(f"state refused: {problem}")
            return
        self.states += 1
        if self.t_state is not None and t < self.t_state:
            self.t_cmd = None          # the clock went back (a restarted driver): start over
        self.q, self.qd, self.t_state = q, qd, t
        if self.t_cmd is None:
            self.t_cmd = t     # the watchdog starts with the first state
        elif self._calls % CLOCK_EVERY == 1:      # a fresh clock reading: how old is what drives the motors
            self.delay.observe(now, self.t_cmd)
            d = self.delay.update()
            if d is not None:
                self.filter.set_loop_delay(d)
        if self.lock.locked:
            self._send(self.filter.hold(q, qd), "hold (lock)")
        elif t - self.t_cmd > self.watchdog:
            self._send(self.filter.hold(q, qd), "hold (watchdog)")

    def _on_command(self, data: bytes) -> None:
        if self.q is None:
            return
        self.t_cmd = self.t_state
        if self.lock.locked:      # the lock's hold answers every state
            return
        tau, reasons = self.filter.filter(self.command_reader.read(data), self.q, self.qd)
        for r in reasons:
            self._count(r)
        held = any("NaN" in r or "values" in r for r in reasons)
        self._send(tau, "hold (bad command)" if held else "pass")

    def _send(self, tau, mode: str) -> None:
        if mode == "pass":
            self.passed += 1
        else:
            self.holds += 1
        if mode != self.mode:
            if mode == "pass":
                self.get_logger().info("safety: pass")
            else:
                self.get_logger().warning(f"safety: {mode}")
            self.mode = mode
        self.pub.publish(convert.effort_command_cdr(tau))

    def _count(self, reason: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.get_logger().warning(f"safety: {reason}", throttle_duration_sec=1.0)

    def _diagnostics(self) -> None:
        st = DiagnosticStatus(name="sim2real/safety_filter", hardware_id=self.robot.name)
        recent = {k: v - self._reported.get(k, 0) for k, v in self.reasons.items() if v > self._reported.get(k, 0)}
        self._reported = dict(self.reasons)
        refused = {k: v for k, v in recent.items() if "refused" in k}
        st.level = DiagnosticStatus.OK if self.mode == "pass" and not refused else DiagnosticStatus.WARN
        st.message = self.mode + "".join(f"; {k} ({v}x)" for k, v in refused.items())
        counts = (("states", self.states), ("passed", self.passed), ("holds", self.holds),
                  ("unanswered", self.states - self.passed - self.holds), ("lock_holders", len(self.lock.holders)),
                  ("loop_delay_ms", f"{1e3 * self.filter.loop_delay_s:.1f}"))
        st.values = [KeyValue(key=k, value=str(v)) for k, v in (*counts, *self.reasons.items())]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()      # a recording's log time and this agree
        self.pub_diag.publish(arr)

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
