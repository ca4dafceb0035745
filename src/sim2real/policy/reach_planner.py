"""The baseline reach policy: IK to the target, then a minimum-jerk joint trajectory.

It outputs desired joint states at the policy rate exactly as a learned policy will, so every
learned policy is compared against it through the same graph.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.control.trajectories import MinimumJerk


class ReachPlanner:
    SPEED = 0.8          # fraction of each joint's velocity limit at the trajectory's peak
    MIN_DURATION = 0.5   # s
    SAME_TARGET_M = 0.005   # a target this close to the one planned for is that target seen again
                            # (perception's estimates jitter by a few mm at 15 Hz): no new plan

    def __init__(self, model: NominalModel):
        self.m = model
        self.vmax = model.robot.velocity_limit * self.SPEED
        self.traj: MinimumJerk | None = None
        self.target: np.ndarray | None = None
        self.ik_residual = 0.0

    def set_target(self, target: np.ndarray, q_now: np.ndarray, t_now: float) -> bool:
        """Plan from the current *desired* point if moving, so the reference stays continuous.
        False (the plan kept) when the target is within SAME_TARGET_M of the one planned for."""
        target = np.asarray(target, float)
        if self.target is not None and float(np.linalg.norm(target - self.target)) < self.SAME_TARGET_M:
            return False
        start = q_now if self.traj is None else self.traj.sample(t_now)[0]
        goal, self.ik_residual = self.m.ik(np.asarray(target, float), start)
        self.traj = MinimumJerk.at_speed(start, goal, t_now, self.vmax, self.MIN_DURATION)
        self.target = target.copy()
        return True

    def desired(self, t: float, q_now: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.traj is None:   # no target yet: hold where we are
            return q_now.copy(), np.zeros_like(q_now), np.zeros_like(q_now)
        return self.traj.sample(t)
