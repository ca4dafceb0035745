"""The learned reach policy node: target (PointStamped on /perception/target; the graph remaps it to
/sim/target until perception runs) + joint state -> /policy/desired at the policy rate, through
ONNX Runtime (policy/runtime.py). On a missing or non-finite input, or a non-finite output, it
holds the last safe desired position (zero velocity) and says so on /diagnostics, where it also
reports its inference time (p50, p99, max over the last second).

A checkpoint that observes the loop's delay (policy/reach_core.py, extrinsic feature "loop_delay")
gets the figure the safety filter measures and sets its gains for: the filter node's status on
/diagnostics (name sim2real/safety_filter, this robot, `loop_delay_ms`), as the training
environment gives each simulation the figure its filter runs with; 0 until the first report
(what the filter reports for a fast loop, and what it starts from). A figure outside
0-MAX_DELAY_S or not a number is ignored and counted."""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped

from sim2real.policy.runtime import LearnedReach
from sim2real.ros import convert
from sim2real.ros.nodes.policy_base import PolicyNode

FILTER_STATUS = "sim2real/safety_filter"
MAX_DELAY_S = 0.2      # a loop this slow is an outage (the filter's watchdog holds at 0.1 s)


class LearnedPolicyNode(PolicyNode):
    # the base subscribes to the states in its __init__, and a composition may deliver one before
    # the checkpoint below is loaded: until then act() publishes nothing
    policy: LearnedReach | None = None
    target = None

    def __init__(self, **kwargs):
        super().__init__(extra_params={"checkpoint": ("", "policy checkpoint NAME.pt (+ .json, .onnx)")}, **kwargs)
        self.delay_reports = 0
        self.policy = LearnedReach(self.p.checkpoint, self.robot)
        self.target = None
        self.problems: dict[str, int] = {}
        self.steps = 0
        self.add_target_input(self._on_target)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.policy.observes_delay:
            self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"learned policy '{self.policy.scheme}' from {self.p.checkpoint}")

    def _on_target(self, msg: PointStamped) -> None:
        tgt = convert.from_point(msg)
        if not np.all(np.isfinite(tgt)):
            self.problems["non-finite target ignored"] = self.problems.get("non-finite target ignored", 0) + 1
            return
        self.target = tgt

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name != FILTER_STATUS or st.hardware_id != self.robot.name:
                continue
            for kv in st.values:
                if kv.key != "loop_delay_ms":
                    continue
                try:
                    s = 1e-3 * float(kv.value)
                except ValueError:
                    s = float("nan")
                if 0.0 <= s <= MAX_DELAY_S and self.policy.set_loop_delay(s):
                    self.delay_reports += 1
                else:
                    self.problems["loop delay report ignored"] = self.problems.get("loop delay report ignored", 0) + 1

    def act(self, t, q, qd):
        if self.policy is None:
            return None, None
        q_d, qd_d, problem = self.policy.act(q, qd, self.target)
        self.steps += 1
        if problem:
            self.problems[f"holding: {problem}"] = self.problems.get(f"holding: {problem}", 0) + 1
        return q_d, qd_d

    def _diagnostics(self) -> None:
        problems, self.problems = self.problems, {}
        p50, p99, mx = convert.latency_ms(self.policy.infer_s)
        self.policy.infer_s.clear()
        convert.publish_diagnostics(
            self, self.pub_diag, "sim2real/policy", self.robot.name,
            f"learned ({self.policy.scheme}): inference p50 {p50:.3f} ms, p99 {p99:.3f} ms", problems,
            (("scheme", self.policy.scheme), ("checkpoint", self.p.checkpoint), ("steps", self.steps),
             ("loop_delay_ms", f"{1e3 * self.policy.loop_delay_s:.1f}" if self.policy.observes_delay else "not observed"),
             ("loop_delay_reports", self.delay_reports),
             ("inference_p50_ms", f"{p50:.4f}"), ("inference_p99_ms", f"{p99:.4f}"), ("inference_max_ms", f"{mx:.4f}")))
