"""The reach task: targets in a workspace box, each held for hold_s; success within a tolerance.

Settings: config/tasks/reach.yaml (workspace low/high in base_link, hold_s, success_tol_m, and
the scene it adds: table and target), overridden by the robot config's `tasks: {reach: ...}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ReachTask:
    low: np.ndarray      # (3,) m
    high: np.ndarray     # (3,) m
    hold_s: float
    tol_m: float
    scene: dict = field(default_factory=dict)    # what the task adds to the robot's scene (table, target)

    @classmethod
    def from_robot(cls, robot) -> "ReachTask":
        t = robot.task_config("reach") if "reach" in getattr(robot, "tasks", ()) else robot.task
        ws = t.get("workspace", {"low": [0.3, -0.3, 0.1], "high": [0.6, 0.3, 0.4]})
        return cls(np.array(ws["low"], float), np.array(ws["high"], float),
                   float(t.get("hold_s", 4.0)), float(t.get("success_tol_m", 0.02)), dict(t.get("scene") or {}))

    def sample_targets(self, n: int, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).uniform(self.low, self.high, size=(n, 3))

    def target_at(self, targets: np.ndarray, t: float) -> tuple[int, np.ndarray]:
        """Index and position of the target active at time t (targets switch every hold_s)."""
        i = min(int(t // self.hold_s), len(targets) - 1)
        return i, targets[i]


@dataclass
class ReachResult:
    target: np.ndarray
    final_error_m: float
    reached: bool


def score_episode(times: np.ndarray, ee: np.ndarray, targets: np.ndarray, task: ReachTask) -> list[ReachResult]:
    """Final error of each target: the end-effector distance at the end of its hold window.

    times (T,) s since start, ee (T, 3) end-effector positions, targets (k, 3).
    """
    out = []
    for i, tgt in enumerate(targets):
        end = (i + 1) * task.hold_s
        idx = np.searchsorted(times, end, side="right") - 1
        if idx < 0 or times[idx] < end - 0.25 * task.hold_s:
            break   # the run ended before this target's window
        err = float(np.linalg.norm(ee[idx] - tgt))
        out.append(ReachResult(tgt, err, err <= task.tol_m))
    return out
