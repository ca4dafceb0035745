"""A classical reach "policy": IK to the target, then a minimum-jerk joint trajectory.

It outputs desired joint states at the policy rate exactly as a learned policy will, so every
learned policy is compared against it through the same graph.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel


class MinimumJerk:
    """q(t) = q0 + (q1 - q0) s(t/T), s = 10 u^3 - 15 u^4 + 6 u^5 (Flash & Hogan 1985)."""

    def __init__(self, q0: np.ndarray, q1: np.ndarray, t0: float, duration: float):
        self.q0, self.dq, self.t0, self.T = np.asarray(q0, float), np.asarray(q1, float) - q0, t0, duration

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, qd, qdd) at time t; holds the end point after T."""
        u = np.clip((t - self.t0) / self.T, 0.0, 1.0)
        s = u ** 3 * (10 - 15 * u + 6 * u ** 2)
        sd = 30 * u ** 2 * (1 - u) ** 2 / self.T
        sdd = 60 * u * (1 - u) * (1 - 2 * u) / self.T ** 2
        if u >= 1.0:
            sd = sdd = 0.0
        return self.q0 + self.dq * s, self.dq * sd, self.dq * sdd


class ReachPlanner:
    SPEED = 0.8          # fraction of each joint's velocity limit at the trajectory's peak
    MIN_DURATION = 0.5   # s

    def __init__(self, model: NominalModel):
        self.m = model
        self.vmax = model.robot.velocity_limit * self.SPEED
        self.traj: MinimumJerk | None = None
        self.target: np.ndarray | None = None
        self.ik_residual = 0.0

    def set_target(self, target: np.ndarray, q_now: np.ndarray, t_now: float) -> None:
        """Plan from the current *desired* point if moving, so the reference stays continuous."""
        start = q_now if self.traj is None else self.traj.sample(t_now)[0]
        goal, self.ik_residual = self.m.ik(np.asarray(target, float), start)
        # peak speed of a minimum-jerk move is 1.875 |dq| / T
        T = max(self.MIN_DURATION, float(np.max(1.875 * np.abs(goal - start) / self.vmax)))
        self.traj = MinimumJerk(start, goal, t_now, T)
        self.target = np.asarray(target, float).copy()

    def desired(self, t: float, q_now: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.traj is None:   # no target yet: hold where we are
            return q_now.copy(), np.zeros_like(q_now), np.zeros_like(q_now)
        return self.traj.sample(t)
