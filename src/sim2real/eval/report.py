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
