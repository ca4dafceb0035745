"""Replay a reach-from-pixels recording through the perception node's per-frame logic, offline.

    python bench/perception_replay.py REC.mcap --reality PROFILE [--checkpoint PT] [--refine PT|none]
        [--target K] [--json]

REC.mcap is what `sim2real eval perception --graph` records (/joint_states, /sim/target). The
twin's camera is rendered again, under the profile's visuals, at the recorded joint states and
targets at the camera's rate, and each frame goes through perception/pipeline.TargetPipeline (the
code the node runs: keypoints (stage 2 where its checkpoint exists, as the node), online calibration, location, tracking, occlusion by the arm). It
prints, per target, the tracked estimate's error over time and how many frames had the hand in
front (hidden) or the arm about (arm_near), and the final estimates' errors: deterministic,
~8 s for 10 targets, and free of the machine's load (the live run is not). The arm follows the
recorded motion, which followed the live node's estimates, so this measures the tracker on that
motion, not the closed loop. `--target K` prints target K frame by frame.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np


def replay(rec: str, reality: str, checkpoint: str, robot_name: str = "jaco", trace: int | None = None,
           refine: str | None = None) -> dict:
    import mujoco

    from sim2real.data.mcap_io import load_joint_states, read_messages
    from sim2real.perception.net import Localizer, default_checkpoint
    from sim2real.perception.pipeline import TargetPipeline
    from sim2real.perception.refine import default_refiner
    from sim2real.robots import load_robot
    from sim2real.sim.camera import Camera
    from sim2real.sim.reality import load_profile
    from sim2real.sim.simulator import Simulator
    from sim2real.tasks.reach import ReachTask

    robot = load_robot(robot_name)
    task = ReachTask.from_robot(robot)
    prof = load_profile(reality)
    sim = Simulator(robot, prof)
    cam = Camera(sim.model, robot.camera, prof.section("visuals"), prof.seed)
    pipe = TargetPipeline(Localizer(checkpoint or default_checkpoint(robot.name), robot), robot,
                          refiner=default_refiner(robot, refine or None))
    targets = [(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, np.array([m.point.x, m.point.y, m.point.z]))
               for _, m, _ in read_messages(rec, ["/sim/target"])]
    js = load_joint_states(rec)
    if not targets or not len(js["t"]):
        raise SystemExit(f"{rec}: no /sim/target or /joint_states recorded")
    idx = [js["names"].index(n) for n in robot.joint_names]
    t_targets = np.array([t for t, _ in targets])
    rows: dict[int, list] = {i: [] for i in range(len(targets))}
    next_fit = -np.inf
    for t in np.arange(targets[0][0], min(targets[-1][0] + task.hold_s, js["t"][-1]), 1.0 / robot.camera.rate_hz):
        i = max(0, int(np.searchsorted(t_targets, t, side="right")) - 1)
        k = int(np.clip(np.searchsorted(js["t"], t), 0, len(js["t"]) - 1))
        q, truth = js["q"][k][idx], targets[i][1]
        sim.reset(q)
        sim.set_target(truth)
        mujoco.mj_forward(sim.model, sim.data)
        r = pipe.frame(cam.render(sim.data), q)
        if t >= next_fit:                   # the node refits once a second
            pipe.recalibrate()
            next_fit = t + 1.0
        err = float(np.linalg.norm(r.target - truth) * 100) if r.target is not None else float("nan")
        rows[i].append((t - targets[i][0], err, r.hidden, r.arm_near, r.refined))
        if trace == i:
            print(f"  {t - targets[i][0]:5.2f} s  estimate {None if r.target is None else np.round(r.target, 3)}  "
                  f"measured {None if r.measured is None else np.round(r.measured, 3)}  hidden {r.hidden:d} "
                  f"arm_near {r.arm_near:d} foot_misread {r.foot_misread:d} stage2 {r.refined} confidence {r.confidence:.2f}")
    out = []
    for i, rs in rows.items():
        a = np.array(rs, float)
        at = {f"{s:g}s": float(a[min(np.searchsorted(a[:, 0], s), len(a) - 1), 1]) for s in (0.3, 1, 2, 3)}
        out.append({"target": targets[i][1].round(4).tolist(), "error_cm_at": at, "final_cm": float(a[-1, 1]),
                    "frames": len(a), "hidden": int(a[:, 2].sum()), "arm_near": int(a[:, 3].sum()),
                    "stage2_points": int(a[:, 4].sum())})
    fin = np.array([o["final_cm"] for o in out])
    return {"recording": rec, "reality": reality, "checkpoint": str(pipe.loc.path),
            "stage2": str(pipe.refiner.path) if pipe.refiner else None,
            "camera": [robot.camera.width, robot.camera.height], "targets": out,
            "final_median_cm": float(np.nanmedian(fin)), "final_under_2cm": float(np.mean(fin < 2.0)),
            "final_under_1_5cm": float(np.mean(fin < 1.5))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("recording")
    p.add_argument("--reality", required=True, help="the profile the recording ran under (its visuals)")
    p.add_argument("--checkpoint", default="", help="perception checkpoint (default: the node's)")
    p.add_argument("--refine", default="", help="stage-2 checkpoint, or 'none' (default: the node's, where it exists)")
    p.add_argument("--robot", default="jaco")
    p.add_argument("--target", type=int, default=None, help="print this target frame by frame")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    r = replay(a.recording, a.reality, a.checkpoint, a.robot, a.target, a.refine)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    for i, o in enumerate(r["targets"]):
        at = " ".join(f"{v:5.1f}" for v in o["error_cm_at"].values())
        print(f"target {i} {np.round(o['target'], 3)}: estimate error at 0.3/1/2/3 s {at} cm, final {o['final_cm']:.1f} cm; "
              f"hand in front {o['hidden']}/{o['frames']} frames, arm about {o['arm_near']}")
    print(f"final estimates: median {r['final_median_cm']:.2f} cm, {100 * r['final_under_2cm']:.0f}% under 2 cm, "
          f"{100 * r['final_under_1_5cm']:.0f}% under 1.5 cm ({r['checkpoint']}; stage 2 {r['stage2']}; "
          f"camera {r['camera'][0]}x{r['camera'][1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
