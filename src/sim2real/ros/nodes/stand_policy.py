"""The baseline stand policy node (legged robots): the classical stand controller of tasks/stand.py
as joint position targets on /policy/desired at the policy rate (ros/nodes/policy_base.py);
it ramps from the joints measured at its first state to the stand pose."""
from __future__ import annotations

import numpy as np

from sim2real.ros.nodes.policy_base import PolicyNode
from sim2real.tasks.stand import StandBaseline


class StandPolicyNode(PolicyNode):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.baseline = StandBaseline(self.robot)
        self._started = False

    def act(self, t, q, qd):
        if not self._started:
            self.baseline.reset(q, t)
            self._started = True
        return self.baseline.targets(t), np.zeros(self.robot.n)
