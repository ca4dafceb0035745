"""Reach report from a recording: what `sim2real demo` prints. Reads only the .mcap (as any
offline analysis of a real robot run would), plus the nominal model for forward kinematics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.data.mcap_io import load_joint_states, read_messages
from sim2real.tasks.reach import ReachResult, ReachTask, score_episode


@dataclass
class ReachReport:
    results: list[ReachResult]
    samples: int
    sim_seconds: float

    @property
    def reached(self) -> int:
        return sum(r.reached for r in self.results)

    def lines(self) -> list[str]:
        out = [f"targets reached: {self.reached}/{len(self.results)}"]
        for i, r in enumerate(self.results):
            x, y, z = r.target
            out.append(f"  target {i + 1} ({x:+.3f}, {y:+.3f}, {z:+.3f}) m: final error "
                       f"{100 * r.final_error_m:.2f} cm {'reached' if r.reached else 'MISSED'}")
        return out


def reach_report(path, robot) -> ReachReport:
    js = load_joint_states(path)
    targets = [np.array([m.point.x, m.point.y, m.point.z]) for _, m, _ in read_messages(path, ["/sim/target"])]
    if not len(js["t"]) or not targets:
        return ReachReport([], len(js["t"]), 0.0)
    idx = [js["names"].index(n) for n in robot.joint_names]
    model = NominalModel(robot)
    ee = np.array([model.ee_position(q[idx]) for q in js["q"]])
    task = ReachTask.from_robot(robot)
    t = js["t"]   # lockstep stamps are sim time from 0, as the task schedule is
    return ReachReport(score_episode(t, ee, np.array(targets), task), len(t), float(t[-1]))


class StandWatch:
    """The stand demo's verdict, sampled from the simulator (ground truth) while the graph runs."""

    def __init__(self, task):
        self.task = task
        self.heights: list[float] = []
        self.tilts: list[float] = []
        self.fell_at: float | None = None

    def sample(self, t: float, base_pos, base_quat) -> None:
        st = self.task.status(base_pos, base_quat)
        self.heights.append(st.height_m)
        self.tilts.append(st.tilt_rad)
        if st.fallen and self.fell_at is None:
            self.fell_at = t

    @property
    def ok(self) -> bool:
        h = np.array(self.heights[len(self.heights) // 20:])    # after the ramp into the pose
        return bool(self.fell_at is None and h.size
                    and np.max(np.abs(h - self.task.base_height)) <= self.task.height_tol_m)

    def line(self) -> str:
        h, task = np.array(self.heights[len(self.heights) // 20:] or [np.nan]), self.task
        return (f"{'stood' if self.ok else 'FAILED'}: base height {1e3 * h.min():.1f}..{1e3 * h.max():.1f} mm "
                f"(nominal {1e3 * task.base_height:.1f} mm, tolerance {1e3 * task.height_tol_m:.0f} mm), "
                f"max tilt {np.degrees(max(self.tilts or [0.0])):.1f} deg"
                + (f"; fell at {self.fell_at:.2f} s" if self.fell_at is not None else ""))
