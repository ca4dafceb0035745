"""Perception's commands, called by cli.py (which parses and dispatches):

  sim2real data render --robot R --n N [--out FILE.npz] [--nominal] [--seed S] [--workers W] [--force]
  sim2real train perception --robot R --scheme sim-only|dr|dr+confusion|dr+confusion+pairs
        [--target-data REC.mcap] [--dataset FILE.npz] [--images N] [--epochs E] [--out NAME]
        [--seed S] [--threads T] [--time-budget SECONDS] [--init CHECKPOINT] [--force]
  sim2real train perception --robot R --scheme stage2 [--dataset FILE.npz] [--images N] [--epochs E]
        [--out NAME] [--seed S] [--threads T] [--time-budget SECONDS] [--init STAGE1] [--force]
        (perception/refine.py: the target's and foot's keypoints on crops of the camera's own
        pixels; --init names the stage-1 checkpoint its validation runs first)
  sim2real eval perception --robot R [--reality FILE] [--n N] [--checkpoints NAME ...] [--out DIR] [--json]
        [--graph [--episodes K] [--policies planner|learned]]   (reach success from pixels, perception/reach.py)

Each takes the argparse namespace; options it does not find take their defaults here, so a parser
that declares fewer of them still works.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.errors import ConfigError


def _get(a, name, default):
    v = getattr(a, name, None)
    return default if v is None else v


def _log(m: str) -> None:
    print(m, file=sys.stderr, flush=True)


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def render(a) -> int:
    from sim2real.perception.render import render_dataset
    from sim2real.robots import load_robot
    robot = load_robot(_get(a, "robot", "jaco"))
    n = int(_get(a, "n", 1000))
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    mode = "nominal" if _get(a, "nominal", False) else "randomized"
    seed = int(_get(a, "seed", 0))
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    out = _get(a, "out", None) or str(paths.data_root() / "runs" / "perception" / f"{robot.name}-{mode}-{n}-s{seed}.npz")
    workers = _get(a, "workers", None)
    _log(f"render {n} {mode} images of {robot.name}'s scene ({robot.camera.width}x{robot.camera.height}, shadows off); "
         f"{workers or os.cpu_count()} processes; machine {_machine()}")
    cfg = render_dataset(robot, n, out, mode, seed, workers=workers, force=bool(_get(a, "force", False)))
    print(f"dataset: {cfg['path']} ({cfg['bytes'] / 1e6:.1f} MB, {n} images) in {cfg['wall_s']:.1f} s "
          f"({n / max(cfg['wall_s'], 1e-9):.0f} images/s)")
    return 0


def train(a) -> int:
    from sim2real.perception.train import SCHEMES, TrainConfig
    from sim2real.perception.train import train as run
    from sim2real.robots import load_robot
    robot = load_robot(_get(a, "robot", "jaco"))
    scheme = _get(a, "scheme", "dr")
    if scheme == STAGE2:
        return train_stage2(a, robot)
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown scheme '{scheme}'; choose one of: {', '.join(SCHEMES)}, {STAGE2}")
    cfg = TrainConfig(scheme=scheme, images=int(_get(a, "images", TrainConfig.images)),
                      epochs=int(_get(a, "epochs", TrainConfig.epochs)), seed=int(_get(a, "seed", 0)),
                      threads=int(_get(a, "threads", 1)),
                      time_budget_s=float(_get(a, "time_budget", 0.0)),
                      init=str(paths.user_path(_get(a, "init", None))) if _get(a, "init", None) else "")
    out = Path(_get(a, "out", None) or paths.checkpoint(robot.name, f"perception_{scheme}"))
    target = _get(a, "target_data", None)
    dataset = _get(a, "dataset", None)
    _log(f"train perception: {robot.name}, scheme {scheme}, "
         + (f"dataset {dataset}" if dataset else f"{cfg.images} fresh renders")
         + f", {cfg.epochs} epochs, {cfg.threads} threads; machine {_machine()}")
    res = run(robot, cfg, out, dataset=paths.user_path(dataset) if dataset else None,
              target_data=paths.user_path(target) if target else None, force=bool(_get(a, "force", False)), log=_log)
    f, m = res["final"], res["meta"]
    print(f"checkpoint: {res['checkpoint']} (+ .json, .onnx); curves: {Path(res['checkpoint']).with_suffix('')}-curve.png/.csv")
    print(f"trained in {res['wall_s'] / 60:.1f} min ({m['images_seen']} images seen, {m['epochs_run']} epochs); "
          f"validation (its own renders): median {f.get('val_median_cm', float('nan')):.2f} cm, "
          f"p90 {f.get('val_p90_cm', float('nan')):.2f} cm; ONNX Runtime {m['onnx_images_per_s_1thread']:.0f} images/s on one thread")
    return 0


STAGE2 = "stage2"


def train_stage2(a, robot) -> int:
    from sim2real.perception.refine import NAME, RefineConfig, train_refiner
    d = RefineConfig()
    init = _get(a, "init", None)
    cfg = RefineConfig(images=int(_get(a, "images", d.images)), epochs=int(_get(a, "epochs", d.epochs)),
                       seed=int(_get(a, "seed", 0)), threads=int(_get(a, "threads", d.threads)),
                       time_budget_s=float(_get(a, "time_budget", d.time_budget_s)),
                       stage1=str(paths.user_path(init)) if init else "")
    if _get(a, "target_data", None):
        raise ConfigError("--target-data: stage 2 trains on randomized renders only")
    out = Path(_get(a, "out", None) or paths.checkpoint(robot.name, NAME))
    dataset = _get(a, "dataset", None)
    _log(f"train perception stage 2: {robot.name}, {cfg.crop} px crops of {robot.camera.width}x{robot.camera.height} "
         f"frames, " + (f"dataset {dataset}" if dataset else f"{cfg.images} fresh renders")
         + f", time budget {cfg.time_budget_s:.0f} s, {cfg.threads} threads; machine {_machine()}")
    res = train_refiner(robot, cfg, out, dataset=paths.user_path(dataset) if dataset else None,
                        force=bool(_get(a, "force", False)), log=_log)
    f, m, c = res["final"], res["meta"], res["chain"]
    print(f"checkpoint: {res['checkpoint']} (+ .json, .onnx); curves: {Path(res['checkpoint']).with_suffix('')}-curve.png/.csv")
    print(f"trained in {res['wall_s'] / 60:.1f} min ({m['images_seen']} crops seen, {m['epochs_run']} epochs; "
          f"{m['total_wall_s'] / 60:.1f} min with rendering); validation crops: target {f.get('val_target_px', float('nan')):.2f} px, "
          f"foot {f.get('val_foot_px', float('nan')):.2f} px (crop centres {f.get('val_centre_px', float('nan')):.2f} px off); "
          f"ONNX Runtime {m['onnx_crops_per_s_1thread']:.0f} crops/s on one thread")
    if c:
        s1, s2 = c["stage1"], c["stage2"]
        print(f"validation renders, stage 1 ({Path(c['stage1_checkpoint']).name}) -> stage 2: "
              f"foot {s1['foot_px']:.2f} -> {s2['foot_px']:.2f} px, target {s1['target_px']:.2f} -> {s2['target_px']:.2f} px, "
              f"3D median {s1['median_cm']:.2f} -> {s2['median_cm']:.2f} cm (true camera; stage 2 taken {c['used']:.0%})")
    return 0


def _checkpoints(robot, names) -> list[Path]:
    from sim2real.perception.train import SCHEMES
    if names:
        return [paths.user_path(n) for n in names]
    found = [paths.checkpoint(robot.name, f"perception_{s}") for s in SCHEMES]
    found = [p for p in found if p.is_file()]
    if not found:
        raise ConfigError(f"no perception checkpoint in {paths.data_root() / 'models' / robot.name}; "
                          f"train one with `sim2real train perception --scheme dr`")
    return found


CALIBRATION_IMAGES = 60     # eval perception: the first images' landmarks calibrate the camera


def evaluate(a) -> int:
    """Localization error on images rendered under the profile (the twin's scene and camera
    effects), per checkpoint; a contact sheet of source and target images with predictions."""
    from sim2real.perception.geometry import Camera, Landmarks
    from sim2real.perception.net import Localizer
    from sim2real.perception.pipeline import TargetPipeline
    from sim2real.perception.refine import default_refiner
    from sim2real.perception.render import SceneRenderer
    from sim2real.perception.train import errors_cm, measure_onnx
    from sim2real.robots import load_robot
    from sim2real.sim.randomize import load_randomization
    from sim2real.sim.reality import NOMINAL, load_profile
    robot = load_robot(_get(a, "robot", "jaco"))
    reality = _get(a, "reality", None)
    profile = load_profile(paths.user_path(reality)) if reality else NOMINAL
    n = int(_get(a, "n", 300))
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    seed = int(_get(a, "seed", 0))
    locs = [Localizer(p, robot) for p in _checkpoints(robot, _get(a, "checkpoints", None))]
    # one row per checkpoint: its scheme, or scheme (file) where two checkpoints share a scheme
    counts = {}
    for loc in locs:
        counts[loc.scheme] = counts.get(loc.scheme, 0) + 1
    label = {id(loc): loc.scheme if counts[loc.scheme] == 1 else f"{loc.scheme} ({loc.path.stem})" for loc in locs}
    # each checkpoint through the pipeline the node runs: stage 1 alone, and with stage 2 where there is one
    refiner = default_refiner(robot, _get(a, "refine", None))
    variants = [(label[id(loc)], loc, None) for loc in locs]
    if refiner is not None:
        variants += [(f"{label[id(loc)]} +stage2", loc, refiner) for loc in locs]
    _log(f"eval perception: {robot.name}, {n} images rendered under '{profile.name}'; "
         f"{', '.join(loc.scheme for loc in locs)}; machine {_machine()}")
    t0 = time.perf_counter()
    tw = SceneRenderer(robot, "nominal", profile=profile)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1515]))
    samples = [tw.sample(rng) for _ in range(n)]
    images = np.stack([s.image for s in samples])
    truth = np.stack([s.target for s in samples]).astype(float)
    cams = np.stack([s.camera for s in samples])
    n_cal = int(_get(a, "calibration_images", CALIBRATION_IMAGES))
    lm = Landmarks(robot)
    cal_idx = np.arange(min(n_cal, n))
    lm_xyz = lm(np.stack([samples[i].q for i in cal_idx])) if len(cal_idx) else None
    true_cam = Camera.from_array(cams[0], robot.camera.width, robot.camera.height)
    results = {}
    preds = {}
    for name, loc, ref in variants:
        pipe = TargetPipeline(loc, robot, calibrate=False, refiner=ref)
        loc.camera = loc.camera0
        t1 = time.perf_counter()
        kp, spread, used = pipe.keypoints(images)
        dt = time.perf_counter() - t1
        p_nominal, _ = loc.locate(kp, spread)                  # the nominal mount, uncalibrated
        cal = loc.calibrate(kp[cal_idx], spread[cal_idx], lm_xyz) if n_cal else {}
        p, sg = loc.locate(kp, spread)
        r = errors_cm(p, truth)
        e = np.linalg.norm(p - truth, axis=1)
        along, across = ray_split(p - truth, truth, cams)
        r.update(along_ray_median_cm=float(np.median(along) * 100), across_ray_median_cm=float(np.median(across) * 100))
        r.update(uncalibrated=errors_cm(p_nominal, truth), calibration=cal,
                 camera_error_after_calibration={
                     "position_cm": float(np.linalg.norm(loc.camera.pos - true_cam.pos) * 100),
                     "rotation_deg": float(np.degrees(np.arccos(np.clip((np.trace(loc.camera.R.T @ true_cam.R) - 1) / 2, -1, 1)))),
                     "fovy_deg": float(loc.camera.fovy_deg - true_cam.fovy_deg)},
                 keypoint_px_median={nm: float(np.median(np.linalg.norm(kp[:, k] - np.stack([s.keypoints[k] for s in samples]), axis=1)))
                                     for k, nm in enumerate(loc.meta["keypoints"])})
        r.update(sigma_median_cm=float(np.median(sg) * 100), within_tol=float(np.mean(e <= loc.tol_m)),
                 checkpoint=str(loc.path), images_per_s_batched=float(n / dt),
                 images_per_s_1thread=float(measure_onnx(loc.path.with_suffix(".onnx"), loc.height, loc.width)),
                 image_size=[int(images.shape[2]), int(images.shape[1])], network_input=[loc.width, loc.height])
        if ref is not None:
            r.update(stage2=str(ref.path), stage2_used={"target": float(used[:, 0].mean()), "foot": float(used[:, 1].mean())})
        results[name] = r
        preds[name] = p
    out_dir = Path(_get(a, "out", None) or paths.data_root() / "runs" / "perception")
    out_dir.mkdir(parents=True, exist_ok=True)
    sheet = out_dir / f"contact-{robot.name}-{profile.name}.png"
    src = SceneRenderer(robot, "randomized", load_randomization(robot).visuals)
    src_samples = [src.sample(np.random.default_rng(np.random.SeedSequence([seed, 2, k]))) for k in range(8)]
    src_pred = {}
    for name, loc, ref in variants:     # each randomized render through its own (randomized) camera
        kp, spread, _ = TargetPipeline(loc, robot, calibrate=False, refiner=ref).keypoints(np.stack([s.image for s in src_samples]))
        src_pred[name] = np.concatenate([
            loc.locate(kp[i:i + 1], spread[i:i + 1], Camera.from_array(s.camera, robot.camera.width, robot.camera.height))[0]
            for i, s in enumerate(src_samples)])
    contact_sheet(sheet, samples[:16], preds, src_samples, src_pred)
    tw.close()
    src.close()
    if _get(a, "graph", False):
        from sim2real.perception.reach import reach_from_pixels
        episodes = int(_get(a, "episodes", 10))
        policy = (_get(a, "policies", None) or ["planner"])[0]
        if policy not in ("planner", "learned"):
            raise ConfigError(f"--policies for reach from pixels: planner or learned, not {policy!r}")
        for loc in locs:
            _log(f"reach from pixels, {loc.scheme}: {episodes} targets on the real-time twin graph ({policy})")
            # the node takes stage 2 where its checkpoint exists: the run belongs to that row
            key = f"{label[id(loc)]} +stage2" if refiner is not None else label[id(loc)]
            results[key]["reach"] = reach_from_pixels(robot, reality, loc.path, episodes, seed, out_dir, policy)
    wall = time.perf_counter() - t0
    if _get(a, "json", False):
        print(json.dumps({"robot": robot.name, "profile": profile.name, "images": n, "seed": seed,
                          "results": results, "contact_sheet": str(sheet), "wall_s": round(wall, 1)}, indent=1))
    else:
        print(f"{'scheme':<28} {'median cm':>9} {'p90 cm':>7} {'within 2 cm':>11} {'along ray':>9} {'across':>7} "
              f"{'sigma med':>9} {'uncalibrated':>12}   ({n} images under '{profile.name}'; camera calibrated on the "
              f"arm in the first {min(n_cal, n)}; along/across: median of the error's components along the camera "
              f"ray and across it; uncalibrated: median through the nominal mount, cm)")
        for s, r in results.items():
            print(f"{s:<28} {r['median_cm']:>9.2f} {r['p90_cm']:>7.2f} {r['within_tol']:>11.0%} "
                  f"{r['along_ray_median_cm']:>9.2f} {r['across_ray_median_cm']:>7.2f} {r['sigma_median_cm']:>9.2f} "
                  f"{r['uncalibrated']['median_cm']:>12.2f}   CNN {r['images_per_s_1thread']:.0f} images/s (1 thread, batch 1)")
        for s, r in results.items():
            c, ce = r["calibration"], r["camera_error_after_calibration"]
            kpx = ", ".join(f"{k} {v:.1f}" for k, v in r["keypoint_px_median"].items())
            if "stage2_used" in r:
                kpx += f"; stage 2 taken for the target {r['stage2_used']['target']:.0%}, the foot {r['stage2_used']['foot']:.0%}"
            if c and not c["points"]:
                print(f"  {s}: no landmark the CNN was sure of: the nominal mount stands (keypoint error median px: {kpx})")
            elif c:
                print(f"  {s}: calibration from {c['points']} landmark points, reprojection median {c['median_px']:.2f} px; "
                      f"camera moved {c['moved_m'] * 100:.1f} cm, turned {c['turned_deg']:.2f} deg from the mount; left off "
                      f"the truth by {ce['position_cm']:.1f} cm, {ce['rotation_deg']:.2f} deg, fovy {ce['fovy_deg']:+.2f} deg. "
                      f"Keypoint error median px: {kpx}")
        print(f"contact sheet: {sheet}")
        reach = {s: r["reach"] for s, r in results.items() if "reach" in r}
        if not reach:
            print("reach success from pixels: not run (add --graph: the real-time twin graph with --perception learned)")
        for s, g in reach.items():
            if "missing" in g:
                print(f"reach from pixels, {s}: {g['missing']}")
                continue
            print(f"reach from pixels, {s} ({g['policy']}): success {g['success']:.0%} of {g['episodes']} targets, "
                  f"final error {g['final_error_cm']:.1f} cm; node on the live camera: median {g['live_median_cm']:.1f} cm, "
                  f"p90 {g['live_p90_cm']:.1f} cm, {g['perception_hz']:.1f} targets/s ({g['wall_s']:.0f} s wall)")
    return 0


def ray_split(err: np.ndarray, truth: np.ndarray, cams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|error| along each image's camera ray to the true target (depth) and across it, m
    (base frame = world: the robot's base at the origin)."""
    ray = truth - cams[:, :3]
    ray /= np.linalg.norm(ray, axis=1, keepdims=True)
    along = np.sum(err * ray, axis=1)
    across = np.linalg.norm(err - along[:, None] * ray, axis=1)
    return np.abs(along), across


COLORS = [(255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 128, 0), (255, 255, 255), (0, 128, 255),
          (128, 0, 255), (255, 0, 0)]


def contact_sheet(path: Path, tw_samples, tw_preds: dict, src_samples, src_preds: dict,
                  scale: int = 3) -> None:
    """Rows: 8 randomized source renders, then target-domain (profile) renders; green circle: the
    true target; crosses: each scheme's prediction (legend at the bottom)."""
    import cv2

    from sim2real.perception.render import project
    h, w = tw_samples[0].image.shape[:2] if tw_samples else src_samples[0].image.shape[:2]

    def tile(sample, preds_xyz):
        img = cv2.resize(sample.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        img = np.ascontiguousarray(img)
        u, v = sample.uv * scale
        cv2.circle(img, (int(u), int(v)), 4 * scale, (0, 255, 0), 1)
        for k, p in enumerate(preds_xyz):
            pu, pv = project(sample.camera, p, w, h)[0] * scale   # base frame = world (fixed base at the origin)
            if np.all(np.isfinite([pu, pv])) and -50 < pu < 10000 and -50 < pv < 10000:
                cv2.drawMarker(img, (int(pu), int(pv)), COLORS[k % len(COLORS)], cv2.MARKER_CROSS, 3 * scale, 1)
        return img

    schemes = list(tw_preds)
    rows = [np.concatenate([tile(s, [src_preds[k][i] for k in schemes]) for i, s in enumerate(src_samples)], 1)]
    tw_tiles = [tile(s, [tw_preds[k][i] for k in schemes]) for i, s in enumerate(tw_samples)]
    while len(tw_tiles) % 8:
        tw_tiles.append(np.zeros_like(tw_tiles[0]))
    for r in range(0, len(tw_tiles), 8):
        rows.append(np.concatenate(tw_tiles[r:r + 8], 1))
    sheet = np.concatenate(rows, 0)
    legend = np.zeros((18 * (len(schemes) + 2), sheet.shape[1], 3), np.uint8)
    cv2.putText(legend, "row 1: randomized source renders; below: target domain. green circle: truth", (4, 13),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    for k, s in enumerate(schemes):
        cv2.putText(legend, f"+ {s}", (4, 13 + 18 * (k + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, COLORS[k % len(COLORS)], 1)
    sheet = np.concatenate([sheet, legend], 0)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))

