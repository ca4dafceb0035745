"""The baseline reach policy node: target (PointStamped, /perception/target) + joint state ->
/policy/desired at the policy rate (ros/nodes/policy_base.py)."""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PointStamped

from sim2real.control.nominal_model import NominalModel
from sim2real.policy.reach_planner import ReachPlanner
from sim2real.ros import convert
from sim2real.ros.nodes.policy_base import PolicyNode


class ReachPlannerNode(PolicyNode):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.planner = ReachPlanner(NominalModel(self.robot))
        self.pending_target = None
        self.add_target_input(self._on_target)

    def _on_target(self, msg: PointStamped) -> None:
        tgt = convert.from_point(msg)
        if not np.all(np.isfinite(tgt)):
            self.get_logger().error("ignored non-finite target", throttle_duration_sec=1.0)
            return
        self.pending_target = tgt

    def act(self, t, q, qd):
        if self.pending_target is not None:
            self.planner.set_target(self.pending_target, q, t)
            if self.planner.ik_residual > 0.01:
                self.get_logger().warning(f"target not reachable: IK residual {self.planner.ik_residual:.3f} m")
            self.pending_target = None
        q_d, qd_d, _ = self.planner.desired(t, q)
        return q_d, qd_d
