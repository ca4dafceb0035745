"""Fault injection against the live graph: foreign clients, garbage, floods, locks, dead nodes.

Each scenario brings up the real graph (Jaco; in-process lockstep, or one process per node on the
real-time twin, as `ros2 launch` runs it), injects one kind of fault from a foreign rclpy node and
watches what reached the motors and what the arm did. It returns an `Outcome`:

    injected      what was injected (messages, kills)
    unsafe        unsafe outcomes seen (empty when safe): a joint past its hard position limit,
                  faster than 1.05 x its velocity limit, moving under the lock, drifting while a
                  node was dead, the safety filter no longer answering the driver
    diagnostics   what the graph said about the fault (/diagnostics, the supervisor), as a user sees it
    data_lost     for recordings: seconds missing at the end of a torn file after recovery

`test/integration/test_faults.py` asserts on them; `sim2real bench faults` prints them as a table.
This file: the in-process scenarios, the registry and the table; ros/faults_live.py: the ones on
separate node processes (kill -9, a flood from another process, a killed recorder);
ros/fault_outcome.py: the Outcome both report and the thresholds of unsafe.
"""
from __future__ import annotations

import itertools
import threading
import time

import numpy as np

from sim2real.ros import faults_live
from sim2real.ros.fault_outcome import LOCK_DRIFT, OVERSPEED, OVERTRAVEL, Outcome, domains


class _Graph:
    """The lockstep graph in this process, a foreign node ("intruder") beside it, and a per-step
    watch of the true joint state."""

    def __init__(self, targets: int = 1, task_seed: int = 3):
        from rclpy.node import Node

        from sim2real.graph import build_graph
        from sim2real.ros.compose import Composition
        from diagnostic_msgs.msg import DiagnosticArray
        self.comp = Composition(build_graph("jaco", "mujoco", camera=False, targets=targets, task_seed=task_seed),
                                domain_id=next(domains) % 232)
        self.d = self.comp.nodes["driver"]
        self.robot = self.d.robot
        self.node = Node("intruder", context=self.comp.context)
        self.comp.executor.add_node(self.node)
        self.diags: list[str] = []
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)
        self.vmax = self.robot.velocity_limit
        self.lo, self.hi = self.robot.position_lower, self.robot.position_upper
        self.overspeed = 0.0
        self.overtravel = 0.0
        self.trace: list[np.ndarray] = []
        twin_step = self.d.twin.step

        def step():
            twin_step()
            q, qd, _ = self.d.sim.joint_state()
            self.overspeed = max(self.overspeed, float(np.max(np.abs(qd) / self.vmax)))
            self.overtravel = max(self.overtravel, float(np.max(np.maximum(q - self.hi, self.lo - q))))
            self.trace.append(q)
        self.d.twin.step = step

    def _on_diag(self, msg) -> None:
        from diagnostic_msgs.msg import DiagnosticStatus
        for st in msg.status:
            if st.level != DiagnosticStatus.OK:
                vals = ", ".join(f"{kv.key}={kv.value}" for kv in st.values)
                self.diags.append(f"{st.name}: {st.message} [{vals}]")

    def spin_sim(self, seconds: float, wall_limit: float = 60.0, each=None) -> None:
        end = self.d.sim.time + seconds
        t0 = time.monotonic()
        while self.d.sim.time < end and time.monotonic() - t0 < wall_limit:
            if each is not None:
                each()
            self.comp.executor.spin_once(timeout_sec=0.01)

    def spin_wall(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.comp.executor.spin_once(timeout_sec=0.01)

    def q(self) -> np.ndarray:
        return self.d.sim.joint_state()[0]

    def reach_error(self) -> float:
        return float(np.linalg.norm(self.d.sim.ee_position() - self.d.sim.target()))

    def limits_unsafe(self) -> list[str]:
        out = []
        if self.overspeed > OVERSPEED:
            out.append(f"joint at {self.overspeed:.2f}x its velocity limit")
        if self.overtravel > OVERTRAVEL:
            out.append(f"joint {self.overtravel:.3f} rad past a hard limit")
        return out

    def said(self, *words: str) -> list[str]:
        """Diagnostics that mention any of `words` (deduplicated, first few)."""
        hits = []
        for d in self.diags:
            if any(w in d for w in words):
                short = d.split(" [")[0]
                if short not in hits:
                    hits.append(short)
        return hits[:3]

    def close(self) -> None:
        self.comp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _js(stamp, names, q, qd=None):
    from sim2real.ros import convert
    return convert.joint_state(stamp, names, q, np.zeros(len(q)) if qd is None else qd)


def spoofed_stamps() -> Outcome:
    """One /joint_states stamped an hour ahead, one reordered, one from before the clock."""
    with _Graph() as g:
        from sensor_msgs.msg import JointState
        pub = g.node.create_publisher(JointState, "/joint_states", 10)
        g.spin_sim(0.5)
        names, t = g.robot.joint_names, g.d.sim.time
        timeouts0 = g.d.timeouts
        for stamp in (t + 3600.0, t - 0.3, t + 0.25):
            pub.publish(_js(stamp, names, g.q()))
            g.spin_sim(0.01)
        g.spin_sim(3.0)
        unsafe = g.limits_unsafe()
        stalled = g.d.timeouts - timeouts0
        if stalled > 5:
            unsafe.append(f"safety filter stopped answering ({stalled} lockstep timeouts)")
        if g.reach_error() > 0.02:
            unsafe.append(f"reach abandoned ({100 * g.reach_error():.1f} cm from the target)")
        return Outcome("spoofed/reordered state stamps", "3 states", unsafe, g.said("stamp", "refused"))


def foreign_commands() -> Outcome:
    """Lock set; a foreign node, and one that takes the safety filter's name, command full torque."""
    from rclpy.node import Node
    from std_msgs.msg import Bool, Float64MultiArray

    from sim2real.ros import convert
    from sim2real.ros.qos import LATCHED
    with _Graph(targets=2) as g:
        squatter = Node("safety_filter", context=g.comp.context)
        g.comp.executor.add_node(squatter)
        lock = g.node.create_publisher(Bool, "/teleop/lock", LATCHED)
        pubs = [g.node.create_publisher(Float64MultiArray, "/effort_controller/commands", 10),
                squatter.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)]
        g.spin_sim(1.0)
        lock.publish(Bool(data=True))
        g.spin_sim(0.1)
        q_lock = g.q()
        n = 0
        tau = convert.effort_command(g.robot.effort_limit)

        def inject():
            nonlocal n
            for p in pubs:
                p.publish(tau)
                n += 1
        g.spin_sim(2.0, each=inject)      # through the target switch at 4 s: the policy wants to move too
        drift = float(np.max(np.abs(g.q() - q_lock)))
        unsafe = g.limits_unsafe()
        if drift > LOCK_DRIFT:
            unsafe.append(f"arm moved {drift:.2f} rad under the lock")
        return Outcome("foreign command publishers (lock set)", f"{n} commands", unsafe,
                       g.said("refused commands"))


def garbage_inputs() -> Outcome:
    """NaN, huge and wrong-size messages on every topic the graph subscribes to."""
    from geometry_msgs.msg import PointStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from sim2real.ros import convert
    with _Graph() as g:
        P = g.node.create_publisher
        js = {t: P(JointState, t, 10) for t in ("/joint_states", "/controller/desired", "/policy/desired",
                                                 "/teleop/desired", "/joy/desired")}
        eff = P(Float64MultiArray, "/controller/effort", 10)
        tgt = P(PointStamped, "/sim/target", 10)
        names = list(g.robot.joint_names)
        n = 0
        k = itertools.count()

        def inject():
            nonlocal n
            i = next(k)
            if i % 5:
                return
            t = g.d.sim.time
            bad_js = [_js(t, names, np.full(7, np.nan)), _js(t, names[:3], np.zeros(3)),
                      _js(t, [f"x{j}" for j in range(7)], np.zeros(7)), _js(t, names, np.full(7, np.inf))]
            for pub in js.values():
                pub.publish(bad_js[i // 5 % len(bad_js)])
            eff.publish(convert.effort_command(np.full(7, np.nan)))
            eff.publish(convert.effort_command(np.zeros(3)))
            tgt.publish(convert.point(t, "base_link", [np.nan, 0.0, 1e300]))
            n += 8
        g.spin_sim(3.0, each=inject)
        unsafe = g.limits_unsafe()
        if g.reach_error() > 0.02:
            unsafe.append(f"reach abandoned ({100 * g.reach_error():.1f} cm from the target)")
        if g.comp.nodes["teleop_mux"].active != "policy":
            unsafe.append(f"garbage took the mux ({g.comp.nodes['teleop_mux'].active!r} drives)")
        return Outcome("NaN/inf/wrong-size on every input", f"{n} messages", unsafe,
                       g.said("NaN", "do not match", "values", "refused", "ignored"))


def extreme_desired() -> Outcome:
    """Desired positions of 1e300 and past the joint limits on /teleop/desired (valid messages)."""
    from sensor_msgs.msg import JointState
    with _Graph() as g:
        pub = g.node.create_publisher(JointState, "/teleop/desired", 10)
        g.spin_sim(1.0)
        names = g.robot.joint_names
        n = 0
        k = itertools.count()

        def inject():
            nonlocal n
            if next(k) % 10:
                return
            q = g.q().copy()
            q[1] = 1e300                     # joint 2: absurd
            q[3] = g.robot.position_upper[3] + 1.0   # joint 4: a radian past its limit
            pub.publish(_js(g.d.sim.time, names, q, np.full(7, 100.0)))
            n += 1
        g.spin_sim(3.0, each=inject)
        unsafe = g.limits_unsafe()
        return Outcome("desired states past the limits (1e300)", f"{n} messages", unsafe, g.said("clamped"))


def flood() -> Outcome:
    """5 kHz of valid desired states on /teleop/desired from a foreign thread for 2 s (wall)."""
    from sensor_msgs.msg import JointState
    with _Graph() as g:
        pub = g.node.create_publisher(JointState, "/teleop/desired", 10)
        g.spin_sim(0.5)
        q_away = g.robot.home + 0.5
        stop = threading.Event()
        sent = [0]
        names = g.robot.joint_names

        def burst():
            period = 1.0 / 5000
            nxt = time.perf_counter()
            end = nxt + 2.0
            while not stop.is_set() and time.perf_counter() < end:
                pub.publish(_js(g.d.sim.time, names, q_away))
                sent[0] += 1
                nxt += period
                time.sleep(max(0.0, nxt - time.perf_counter()))
        th = threading.Thread(target=burst, daemon=True)
        t0, c0 = g.d.steps, g.d.timeouts
        th.start()
        g.spin_wall(2.0)
        stop.set()
        th.join()
        steps, timeouts = g.d.steps - t0, g.d.timeouts - c0
        g.spin_sim(2.5)
        unsafe = g.limits_unsafe()
        if g.reach_error() > 0.02:
            unsafe.append(f"reach abandoned ({100 * g.reach_error():.1f} cm from the target)")
        if steps and timeouts / steps > 0.05:
            unsafe.append(f"{100 * timeouts / steps:.0f}% of steps unanswered during the flood")
        hits = g.said("flooding")
        return Outcome(f"5 kHz flood on /teleop/desired ({sent[0] / 2.0:.0f} msg/s reached)",
                       f"{sent[0]} messages", unsafe, hits)


def volatile_lock() -> Outcome:
    """A lock from a volatile publisher (as `ros2 topic pub`); another publisher's release; reset."""
    from rclpy.node import Node
    from std_msgs.msg import Bool, Empty
    with _Graph(targets=2) as g:
        other = Node("other_teleop", context=g.comp.context)
        g.comp.executor.add_node(other)
        lock = g.node.create_publisher(Bool, "/teleop/lock", 10)          # volatile, reliable
        release = other.create_publisher(Bool, "/teleop/lock", 10)
        reset = other.create_publisher(Empty, "/teleop/lock_reset", 10)
        g.spin_sim(3.5)
        lock.publish(Bool(data=True))
        g.spin_sim(0.05)
        q_lock = g.q()
        g.spin_sim(0.5)
        release.publish(Bool(data=False))                                 # not its lock to release
        g.spin_sim(1.5)                                                   # through the target switch at 4 s
        drift = float(np.max(np.abs(g.q() - q_lock)))
        unsafe = g.limits_unsafe()
        if drift > LOCK_DRIFT:
            unsafe.append(f"arm moved {drift:.2f} rad under the lock")
        reset.publish(Empty())
        g.spin_sim(3.0)
        if g.reach_error() > 0.02:
            unsafe.append("the reset did not release the lock (target not reached)")
        diags = g.said("lock")
        safety = g.comp.nodes["safety_filter"]
        diags += [k for k in safety.reasons if k.startswith("lock")][:1]
        return Outcome("volatile lock, foreign release, reset", "3 messages", unsafe, diags)


# the scenarios on separate processes need Outcome and the thresholds above

SCENARIOS = {
    "spoofed_stamps": spoofed_stamps,
    "foreign_commands": foreign_commands,
    "garbage_inputs": garbage_inputs,
    "extreme_desired": extreme_desired,
    "flood": flood,
    "volatile_lock": volatile_lock,
    "flood_realtime": faults_live.flood_realtime,
    "lock_slow_loop": faults_live.lock_slow_loop,
    "node_deaths": faults_live.node_deaths,
    "recording_kill": faults_live.recording_kill,
}


def run(names=None, log=print) -> list[Outcome]:
    """Run the named scenarios (all by default), each as it finishes reported through log."""
    out = []
    for name in names or SCENARIOS:
        t0 = time.monotonic()
        got = SCENARIOS[name]()
        got = got if isinstance(got, list) else [got]
        log(f"{name}: {sum(not o.safe for o in got)} unsafe of {len(got)} ({time.monotonic() - t0:.0f} s)")
        out += got
    return out


def table(outcomes: list[Outcome]) -> str:
    rows = [("fault", "injected", "unsafe outcomes", "diagnostics given", "data lost")]
    for o in outcomes:
        rows.append((o.fault, o.injected, "; ".join(o.unsafe) or "none",
                     " | ".join(o.diagnostics) or "NONE", o.data_lost))
    w = [min(60, max(len(r[i]) for r in rows)) for i in range(5)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(c[:60].ljust(w[j]) for j, c in enumerate(r)))
        if i == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)
