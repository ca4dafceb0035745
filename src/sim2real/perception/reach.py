"""Reach success from pixels: the real-time ROS graph on the twin (`sim2real up --backend twin
--reality FILE --perception learned --perception-checkpoint PT`, one process) with the planner or a
learned reach policy reading /perception/target, recorded and scored like eval/policy.py's graph
run (eval.policy.score: the end effector within the task's tolerance of the TRUE target, /sim/target,
for 0.5 s in a row; distances from the nominal FK of the measured joints at the policy rate).

It also scores the perception node itself on the twin's live camera stream: each /perception/target
against the /sim/target in force at its image's stamp (median, p90 cm), and the node's output rate.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sim2real import paths


def reach_from_pixels(robot, reality: str | None, checkpoint: str | Path, episodes: int, seed: int,
                      out_dir: str | Path, policy: str = "planner", policy_checkpoint: str | None = None) -> dict:
    from sim2real.control.nominal_model import NominalModel
    from sim2real.data.mcap_io import load_joint_states, read_messages
    from sim2real.eval.policy import score, summarize
    from sim2real.graph import build_graph
    from sim2real.ros.compose import Composition
    from sim2real.tasks.reach import ReachTask

    task = ReachTask.from_robot(robot)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = out_dir / f"reach-pixels-{Path(checkpoint).stem.replace('+', '_')}-{int(time.time())}.mcap"
    kw = {"policy": policy}
    if policy_checkpoint:
        kw["policy_checkpoint"] = str(policy_checkpoint)
    decls = build_graph(robot.name, "twin", str(paths.user_path(reality)) if reality else None, record=str(rec),
                        record_topics=["/joint_states", "/sim/target", "/perception/target"],
                        duration_s=episodes * task.hold_s + 0.5, camera=True, targets=episodes, task_seed=seed,
                        perception="learned", perception_checkpoint=str(checkpoint), **kw)
    t0 = time.perf_counter()
    with Composition(decls) as c:
        c.spin(until_driver_done=True, timeout_s=episodes * task.hold_s * 3 + 60)
    wall = time.perf_counter() - t0
    js = load_joint_states(rec)

    def stamped(topic):
        return [(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, np.array([m.point.x, m.point.y, m.point.z]))
                for _, m, _ in read_messages(rec, [topic])]

    tg, seen = stamped("/sim/target"), stamped("/perception/target")
    if not len(js["t"]) or not tg:
        return {"missing": f"{rec}: no joint states or targets recorded"}
    tg_t = np.array([t for t, _ in tg])

    def truth_at(t):
        return tg[max(0, int(np.searchsorted(tg_t, t + 1e-9)) - 1)][1]

    idx = [js["names"].index(n) for n in robot.joint_names]
    kin = NominalModel(robot)
    period = 1.0 / robot.policy_rate_hz
    t_first = tg_t[0]
    grid = np.arange(t_first, min(js["t"][-1], t_first + episodes * task.hold_s), period)
    k = np.clip(np.searchsorted(js["t"], grid), 0, len(js["t"]) - 1)
    dist = np.array([np.linalg.norm(kin.ee_position(js["q"][j][idx]) - truth_at(tt)) for tt, j in zip(grid, k)])
    s = summarize(score(grid - t_first, dist, episodes, task, period))
    err = np.array([np.linalg.norm(p - truth_at(t)) for t, p in seen if t >= t_first]) * 100
    s.update(policy=policy, wall_s=round(wall, 1), recording=str(rec), perception_msgs=len(seen),
             perception_hz=round(len(seen) / max(1e-9, episodes * task.hold_s), 1),
             live_median_cm=float(np.median(err)) if len(err) else float("nan"),
             live_p90_cm=float(np.percentile(err, 90)) if len(err) else float("nan"))
    return s
