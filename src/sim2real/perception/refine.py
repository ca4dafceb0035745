"""Perception's second stage: the target's and its foot's keypoints refined on crops of the camera's
own pixels.

Stage 1 (perception/net.py) finds every keypoint on the frame resized to its input (128 px,
OpenCV INTER_AREA). At that size the 12 mm rod and its foot are 1-2 px wide and the foot's keypoint
is what the target's (x, y) is made of (geometry.locate), so stage 1's sub-pixel bias is the
localization error. Stage 2 takes a CROP x CROP window of the full-resolution frame centred on each
of stage 1's two estimates (the target's, the foot's) and finds that point again in it: a small
U-Net whose heatmap has the crop's own resolution (one cell per camera pixel), its mean the point
(integral regression, Sun et al. 2018, as stage 1) and its RMS radius the spread.

  crop_origin / crop   the window: its top-left pixel is round(centre - CROP / 2), so the crop's
                       pixel (i, j) is the frame's (x0 + j, y0 + i) and a point u in the crop is
                       u + x0 in the frame (pixel k covers [k, k + 1), as everywhere here). Pixels
                       outside the frame are zero (black), as training saw them at the frame's edge.
  RefineNet            (N, 3, CROP, CROP) float RGB in [0, 1] -> (N, 2, 2) px in the crop and
                       (N, 2) spread px: channel 0 the target, 1 the foot. The crop centred on the
                       target reads channel 0, the one on the foot channel 1.
  Refiner              the ONNX Runtime form at run time: refine(images, kp, spread) replaces the
                       target's and foot's keypoints where stage 2 is confident (spread at most the
                       checkpoint's `max_spread_px`, the point well inside its crop) and the frame is
                       at the camera's resolution (what it was trained on); elsewhere stage 1's stand.

Training (`sim2real train perception --scheme stage2`, train_refiner): randomized renders at the
camera's resolution (perception/render.py, config/randomization/<robot>.yaml `visuals`, nothing of
any reality profile), each giving two crops per step, centred on the true point moved by a
stage-1-like error (Gaussian, JITTER_PX per axis, and one crop in five anywhere within
WIDE_JITTER_PX), drawn anew every epoch. Loss as stage 1's: heatmap cross-entropy against a
Gaussian of one pixel plus a Huber loss of the soft-argmax. Validation runs the real chain (the
stage-1 checkpoint on the downsampled frame, stage 2 on crops at its estimates) and reports both
stages' pixel errors and the target's 3D error through each image's true camera.

Writes NAME.pt, NAME.json (kind 'perception_refine', robot, camera size, crop, max_spread_px,
validation), NAME.onnx, NAME-curve.csv/.png; the default NAME is models/<robot>/perception_refine.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError

KIND = "perception_refine"
NAME = "perception_refine"
INPUT, OUTPUTS = "crop", ("keypoints", "spread")
CROP = 48                 # px of the camera's own image, a side
REFINED = (0, 1)          # the stage-1 keypoints stage 2 refines: geometry.TARGET, geometry.FOOT
JITTER_PX = 2.5           # training: the crop's centre off the true point, std per axis (camera px)
WIDE_JITTER_PX = 10.0     # ... and for one crop in five, uniform within this
EDGE_PX = 3.0             # a refined point closer than this to its crop's border is not taken


def default_path(robot_name: str) -> Path:
    from sim2real import paths
    return paths.checkpoint(robot_name, NAME)


# ---- crop geometry ----------------------------------------------------------------------------
def crop_origin(centre_uv, size: int = CROP) -> np.ndarray:
    """(..., 2) int: the top-left pixel (x0, y0) of the size x size window centred nearest each centre."""
    c = np.asarray(centre_uv, float)
    return np.floor(c - size / 2.0 + 0.5).astype(int)


def crop(img: np.ndarray, origin, size: int = CROP) -> np.ndarray:
    """(size, size, C) uint8: img[y0:y0 + size, x0:x0 + size], zero where the window leaves the image."""
    x0, y0 = int(origin[0]), int(origin[1])
    h, w = img.shape[:2]
    out = np.zeros((size, size) + img.shape[2:], img.dtype)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
    if xa < xb and ya < yb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = img[ya:yb, xa:xb]
    return out


def crops_at(images: np.ndarray, centres: np.ndarray, size: int = CROP) -> tuple[np.ndarray, np.ndarray]:
    """(crops (N, M, size, size, 3), origins (N, M, 2)) of images (N, H, W, 3) at centres (N, M, 2)."""
    origins = crop_origin(centres, size)
    out = np.stack([np.stack([crop(images[i], o, size) for o in origins[i]]) for i in range(len(images))])
    return out, origins


# ---- the network ------------------------------------------------------------------------------
def build_refine_net(size: int = CROP, width: int = 16, n_out: int = len(REFINED)):
    """The stage-2 U-Net for size x size crops (size a multiple of 8):

      crop + redness + 2 coordinate channels     6 x S x S
      conv 3x3, w; conv 3x3, w                   w x S x S      (the camera's own pixels)
      conv 3x3 /2, 2w; conv 3x3, 2w              2w x S/2
      conv 3x3 /2, 4w; conv 3x3, 4w              4w x S/4
      conv 3x3 /2, 4w; conv 3x3, 4w              4w x S/8       (context: the rod, the table's edge)
      up + skip, conv 3x3 -> 4w; up + skip -> 2w; up + skip -> w
      conv 1x1 -> n_out heatmaps at S x S; softmax; mean = point, RMS radius = spread
    """
    import torch
    from torch import nn

    if size % 8:
        raise ConfigError(f"the stage-2 crop must be a multiple of 8 px, got {size}")

    def conv(i, o, s=1):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1), nn.ReLU())

    class RefineNet(nn.Module):
        def __init__(self):
            super().__init__()
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
            self.register_buffer("coords", torch.stack([xs, ys])[None])
            w = width
            self.e1 = nn.Sequential(conv(6, w), conv(w, w))
            self.e2 = nn.Sequential(conv(w, 2 * w, 2), conv(2 * w, 2 * w))
            self.e3 = nn.Sequential(conv(2 * w, 4 * w, 2), conv(4 * w, 4 * w))
            self.e4 = nn.Sequential(conv(4 * w, 4 * w, 2), conv(4 * w, 4 * w))
            self.d3 = conv(8 * w, 4 * w)
            self.d2 = conv(6 * w, 2 * w)
            self.d1 = conv(3 * w, w)
            self.heat = nn.Conv2d(w, n_out, 1)
            gy, gx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
            self.register_buffer("grid", torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).float())   # (S*S, 2)

        def logits(self, x):
            up = nn.functional.interpolate
            red = torch.relu(x[:, 0:1] - torch.maximum(x[:, 1:2], x[:, 2:3])) * 4.0
            e1 = self.e1(torch.cat([x - 0.5, red, self.coords.expand(x.shape[0], -1, -1, -1)], 1))
            e2 = self.e2(e1)
            e3 = self.e3(e2)
            e4 = self.e4(e3)
            d = self.d3(torch.cat([up(e4, scale_factor=2.0, mode="nearest"), e3], 1))
            d = self.d2(torch.cat([up(d, scale_factor=2.0, mode="nearest"), e2], 1))
            d = self.d1(torch.cat([up(d, scale_factor=2.0, mode="nearest"), e1], 1))
            return self.heat(d).flatten(2)                     # (N, n_out, S*S)

        def keypoints(self, logits):
            p = torch.softmax(logits, dim=-1)
            kp = p @ self.grid
            d2 = ((self.grid[None, None] - kp[:, :, None]) ** 2).sum(-1)
            return kp, torch.sqrt((p * d2).sum(-1) + 1e-6)

        def forward(self, x):
            return self.keypoints(self.logits(x))

    return RefineNet()


# ---- run time ---------------------------------------------------------------------------------
def check_meta(where, meta: dict, robot) -> None:
    from sim2real.perception.net import check_meta_head
    check_meta_head(where, meta, robot, KIND, ("crop", "camera_size", "max_spread_px"))
    cam = robot.camera
    if cam is None or list(meta["camera_size"]) != [cam.width, cam.height]:
        have = None if cam is None else f"{cam.width}x{cam.height}"
        raise ConfigError(f"{where}: trained on {meta['camera_size'][0]}x{meta['camera_size'][1]} frames, the camera "
                          f"gives {have} (retrain: `sim2real train perception --scheme stage2`)")


class Refiner:
    """A stage-2 checkpoint at run time: NAME.json (checked) and NAME.onnx through ONNX Runtime."""

    def __init__(self, path: str | Path, robot, threads: int = 1):
        from sim2real.perception.net import open_onnx_checkpoint
        pt, meta, self.sess = open_onnx_checkpoint(path, robot, check_meta, "stage-2 checkpoint",
                                                   "sim2real train perception --scheme stage2", threads)
        onnx = pt.with_suffix(".onnx")
        self.meta, self.path = meta, pt
        self.size = int(meta["crop"])
        self.max_spread_px = float(meta["max_spread_px"])
        self.width, self.height = robot.camera.width, robot.camera.height
        if list(self.sess.get_inputs()[0].shape[1:]) != [3, self.size, self.size]:
            raise ConfigError(f"{onnx}: takes {self.sess.get_inputs()[0].shape}, its metadata says a {self.size} px crop")
        self.infer_s: list[float] = []

    def run(self, crops: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(points (N, 2, 2) px in each crop, spread (N, 2) px) of crops (N, S, S, 3) uint8."""
        from sim2real.image import to_input
        kp, sp = [], []
        for i in range(0, len(crops), batch):
            t0 = time.perf_counter()
            k, s = self.sess.run(None, {INPUT: to_input(crops[i:i + batch])})
            self.infer_s.append(time.perf_counter() - t0)
            kp.append(k)
            sp.append(s)
        if len(self.infer_s) > 5000:
            del self.infer_s[:2500]
        return np.concatenate(kp).astype(float), np.concatenate(sp).astype(float)

    def refine(self, images: np.ndarray, kp: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keypoints (N, K, 2), spread (N, K), used (N, 2) bool) of frames (N, H, W, 3) or (H, W, 3)
        at the camera's resolution and their stage-1 keypoints (N, K, 2) and spreads, camera px:
        the target's and foot's replaced where stage 2 is confident. The spreads stay stage 1's
        (they set the node's confidence, which is fitted to them)."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        kp = np.array(kp, float, copy=True)
        used = np.zeros((len(kp), len(REFINED)), bool)
        if images.shape[1:3] != (self.height, self.width) or len(images) != len(kp):
            return kp, spread, used
        centres = kp[:, list(REFINED)]
        ok = np.all(np.isfinite(centres), axis=2)
        # a stage-1 point off the frame by more than half a crop has nothing of itself to refine
        ok &= np.all((centres > -self.size / 2) & (centres < np.array([self.width, self.height]) + self.size / 2), axis=2)
        centres = np.where(ok[..., None], centres, 0.0)
        crops, origins = crops_at(images, centres, self.size)
        pts, sp = self.run(crops.reshape(-1, self.size, self.size, 3))
        m = len(REFINED)
        pts = pts.reshape(len(kp), m, m, 2)[:, np.arange(m), np.arange(m)]     # crop j reads its own channel j
        sp = sp.reshape(len(kp), m, m)[:, np.arange(m), np.arange(m)]
        inside = np.all((pts >= EDGE_PX) & (pts <= self.size - EDGE_PX), axis=2)
        used = ok & inside & (sp <= self.max_spread_px) & np.all(np.isfinite(pts), axis=2)
        full = pts + origins
        for j, k in enumerate(REFINED):
            kp[used[:, j], k] = full[used[:, j], j]
        return kp, spread, used


def default_refiner(robot, path: str | Path | None = None) -> "Refiner | None":
    """The stage-2 refiner the pipeline uses: `path` ('none': none), else models/<robot>/perception_refine
    when it exists and was trained on the camera's size (None otherwise: stage 1 alone)."""
    import json
    if path is not None and str(path).lower() == "none":
        return None
    if path:
        return Refiner(path, robot)
    p = default_path(robot.name)
    if not p.is_file() or robot.camera is None:
        return None
    try:
        size = json.loads(p.with_suffix(".json").read_text()).get("camera_size")
    except (OSError, ValueError):
        size = None
    if size is not None and list(size) != [robot.camera.width, robot.camera.height]:
        return None                 # trained for another camera size: the loaded Refiner would refuse it
    return Refiner(p, robot)


# ---- training ---------------------------------------------------------------------------------
@dataclass
class RefineConfig:
    images: int = 6000          # rendered when no dataset is given
    epochs: int = 60
    batch: int = 64             # crops a step (two of each image)
    lr: float = 2e-3
    seed: int = 0
    val_frac: float = 0.1
    width: int = 16
    crop: int = CROP
    threads: int = 2
    time_budget_s: float = 600.0   # > 0: warm-up + cosine over this much training wall time, then stop
    stage1: str = ""               # the stage-1 checkpoint validation runs first (default: the node's)


def jittered_centres(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 2, 2) crop centres: the true target and foot (kp (N, K, 2)) moved by stage-1-like errors."""
    c = kp[:, list(REFINED)].astype(float)
    off = rng.normal(0.0, JITTER_PX, c.shape)
    wide = rng.random(c.shape[:2]) < 0.2
    off[wide] = rng.uniform(-WIDE_JITTER_PX, WIDE_JITTER_PX, (int(wide.sum()), 2))
    return c + off


def train_refiner(robot, cfg: RefineConfig, out: str | Path, *, dataset: str | Path | None = None,
                  force: bool = False, progress: bool = True, log=None) -> dict:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from sim2real.learn.checkpoint import checkpoint_files, save_checkpoint
    from sim2real.perception.render import load_dataset, render_images
    from sim2real.perception.train import check_training, log_epoch, measure_onnx, write_curves
    from sim2real.sim.randomize import load_randomization
    log = log or (lambda m: None)
    out = check_training(robot, cfg, out, force)
    h, w, S = robot.camera.height, robot.camera.width, cfg.crop
    t_start = time.perf_counter()
    if dataset:
        arrays, dcfg = load_dataset(dataset, robot)
        if dcfg.get("mode") != "randomized":
            raise ConfigError(f"{dataset}: a '{dcfg.get('mode')}' dataset; stage 2 trains on randomized renders")
        data_info = {"dataset": str(dataset), "n": int(len(arrays["images"])), "seed": dcfg.get("seed")}
    else:
        visuals = load_randomization(robot).visuals
        if not visuals:
            raise ConfigError(f"config/randomization/{robot.name}.yaml has no visuals: section to randomize from")
        arrays = render_images(robot, cfg.images, "randomized", visuals, seed=cfg.seed, workers=cfg.threads,
                               progress=progress, desc="render randomized")
        data_info = {"rendered": True, "mode": "randomized", "n": cfg.images, "seed": cfg.seed,
                     "render_s": round(time.perf_counter() - t_start, 1)}
    images, kp_all = arrays["images"], arrays["kp"].astype(np.float32)
    if images.shape[1:3] != (h, w):
        raise ConfigError(f"dataset images are {images.shape[2]}x{images.shape[1]}, the camera {w}x{h}: stage 2 "
                          f"trains on the camera's own pixels")
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(images))
    n_val = max(1, int(round(cfg.val_frac * len(images)))) if len(images) > 1 else 0
    val_idx, tr_idx = perm[:n_val], (perm[n_val:] if n_val < len(images) else perm)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    net = build_refine_net(S, cfg.width)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    per_step = max(1, cfg.batch // len(REFINED))          # images a step
    steps_per_epoch = max(1, len(tr_idx) // per_step)
    total_steps = cfg.epochs * steps_per_epoch

    def lr_at(frac):      # warm-up over the first 5 %, then cosine to 2 % of lr
        if frac < 0.05:
            return cfg.lr * max(0.04, frac / 0.05)
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, (frac - 0.05) / 0.95))))

    def batch_of(idx, centres):
        """crops (B*2, 3, S, S) float, labels (B*2, 2, 2) in the crop, visible (B*2, 2)."""
        cr, org = crops_at(images[idx], centres, S)
        y = kp_all[idx][:, None, list(REFINED)] - org[:, :, None]              # (B, 2 crops, 2 points, 2)
        y = y.reshape(-1, len(REFINED), 2)
        x = torch.from_numpy(cr.reshape(-1, S, S, 3)).permute(0, 3, 1, 2).float().div_(255.0)
        full = np.repeat(kp_all[idx][:, list(REFINED)], len(REFINED), axis=0)  # in the frame at all
        vis = np.all((y >= 1.0) & (y <= S - 1.0), axis=2) & np.all((full >= 0) & (full < [w, h]), axis=2)
        return x, torch.from_numpy(y.astype(np.float32)), torch.from_numpy(vis.astype(np.float32))

    val_centres = jittered_centres(kp_all[val_idx], np.random.default_rng([cfg.seed, 7]))
    rows: list[dict] = []
    t0 = time.perf_counter()
    bar = tqdm(total=total_steps, desc="train perception stage 2", unit="step", disable=not progress)
    seen, spent = 0, False
    for epoch in range(cfg.epochs):
        order = rng.permutation(tr_idx)
        sums, done = {"loss": 0.0, "px": 0.0}, 0
        for s in range(steps_per_epoch):
            frac = ((time.perf_counter() - t0) / cfg.time_budget_s if cfg.time_budget_s > 0
                    else (epoch * steps_per_epoch + s) / total_steps)
            if frac >= 1.0:
                spent = True
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(frac)
            idx = np.sort(order[s * per_step:(s + 1) * per_step])
            x, y, vis = batch_of(idx, jittered_centres(kp_all[idx], rng))
            logits = net.logits(x)
            kp, _ = net.keypoints(logits)
            d2 = ((net.grid[None, None] - y[:, :, None]) ** 2).sum(-1)
            soft = torch.softmax(-d2 / 2.0, dim=-1)                          # a Gaussian of one pixel
            ce = -(soft * F.log_softmax(logits, -1)).sum(-1)
            px = F.huber_loss(kp, y, reduction="none", delta=1.0).sum(-1)
            loss = ((ce + 0.5 * px) * vis).sum() / vis.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            done += 1
            seen += len(x)
            sums["loss"] += loss.item()
            with torch.no_grad():
                own = vis.reshape(-1, len(REFINED), len(REFINED))[:, np.arange(2), np.arange(2)]
                e = torch.linalg.norm(kp - y, dim=-1).reshape(-1, 2, 2)[:, np.arange(2), np.arange(2)]
                sums["px"] += float((e * own).sum() / own.sum().clamp(min=1.0))
            bar.update(1)
            if s % 10 == 0:
                bar.set_postfix(px=f"{sums['px'] / done:.2f}")
        if not done:
            break
        row = {"epoch": epoch + 1, "images_seen": seen, "wall_s": round(time.perf_counter() - t0, 1),
               "train_task": sums["loss"] / done, "train_px": sums["px"] / done}
        row.update(_val_crops(net, images[val_idx], kp_all[val_idx], val_centres, S, w, h))
        rows.append(row)
        bar.set_postfix(val_px=f"{row['val_target_px']:.2f}/{row['val_foot_px']:.2f}")
        if log_epoch(log, row, spent, cfg.time_budget_s):
            break
    bar.close()
    wall = time.perf_counter() - t0
    net.eval()
    last = rows[-1] if rows else {}
    meta = {"kind": KIND, "robot": robot.name, "joint_names": list(robot.joint_names),
            "camera": robot.camera.name, "camera_size": [w, h], "crop": S, "width": cfg.width,
            "refines": ["target", "stand_foot"],
            "input": {"height": S, "width": S, "channels": 3, "layout": "NCHW float32 RGB in [0, 1]"},
            "outputs": {"keypoints": "(N, 2, 2) px in the crop: target, foot", "spread": "(N, 2) px"},
            # stage 2 is taken where its spread is at most this: 3x its median on validation crops
            "max_spread_px": round(max(1.0, 3.0 * last.get("val_spread_median_px", 1.0)), 3),
            "jitter_px": JITTER_PX, "wide_jitter_px": WIDE_JITTER_PX, "data": data_info, "config": asdict(cfg),
            "epochs_run": len(rows), "images_seen": seen, "train_wall_s": round(wall, 1),
            "total_wall_s": round(time.perf_counter() - t_start, 1), "final": last}
    onnx = checkpoint_files(out)[0].with_suffix(".onnx")
    onnx.parent.mkdir(parents=True, exist_ok=True)
    export_refiner(net, S, onnx)
    meta["onnx_crops_per_s_1thread"] = round(measure_onnx(onnx, S, S), 1)
    pt = save_checkpoint(out, net, meta, overwrite=True)
    chain = {}
    try:                                        # the real chain on the validation renders
        chain = validate_chain(robot, pt, cfg.stage1 or None, images[val_idx], arrays["kp"][val_idx],
                               arrays["camera"][val_idx], arrays["target"][val_idx])
    except ConfigError as e:
        log(f"validation through stage 1 skipped: {e}")
    if chain:
        meta["validation_chain"] = chain
        meta["total_wall_s"] = round(time.perf_counter() - t_start, 1)
        save_checkpoint(out, net, meta, overwrite=True)
    write_curves(rows, pt.with_name(pt.stem + "-curve"), f"{robot.name} perception stage 2 ({S} px crops)")
    return {"checkpoint": str(pt), "wall_s": wall, "final": last, "meta": meta, "chain": chain}


def _val_crops(net, images, kp, centres, S, w, h) -> dict:
    """Stage 2 alone on fixed jittered crops: median pixel error of each point's own channel, the
    error the crop's centre had, and the spread's median."""
    import torch
    net.eval()
    errs, before, spreads = [], [], []
    with torch.no_grad():
        for i in range(0, len(images), 128):
            cr, org = crops_at(images[i:i + 128], centres[i:i + 128], S)
            x = torch.from_numpy(cr.reshape(-1, S, S, 3)).permute(0, 3, 1, 2).float().div_(255.0)
            p, sp = net(x)
            p = p.numpy().reshape(-1, 2, 2, 2)[:, np.arange(2), np.arange(2)] + org
            sp = sp.numpy().reshape(-1, 2, 2)[:, np.arange(2), np.arange(2)]
            truth = kp[i:i + 128][:, list(REFINED)]
            inside = np.all((truth >= 0) & (truth < [w, h]), axis=2)
            errs.append(np.where(inside, np.linalg.norm(p - truth, axis=2), np.nan))
            before.append(np.where(inside, np.linalg.norm(centres[i:i + 128] - truth, axis=2), np.nan))
            spreads.append(sp)
    net.train()
    e, b, sp = np.concatenate(errs), np.concatenate(before), np.concatenate(spreads)
    return {"val_target_px": float(np.nanmedian(e[:, 0])), "val_foot_px": float(np.nanmedian(e[:, 1])),
            "val_foot_p90_px": float(np.nanpercentile(e[:, 1], 90)),
            "val_centre_px": float(np.nanmedian(b)), "val_spread_median_px": float(np.median(sp))}


def validate_chain(robot, refine_path, stage1_path, images, kp_true, cams, targets) -> dict:
    """Stage 1 (on the frames resized to its input) then stage 2 on its estimates, on labelled
    renders: median pixel error of the target and foot and the target's 3D error through each
    image's true camera, before and after stage 2."""
    from sim2real.perception.geometry import FOOT, TARGET, Camera, locate
    from sim2real.perception.net import Localizer, default_checkpoint
    loc = Localizer(stage1_path or default_checkpoint(robot.name), robot)
    ref = Refiner(refine_path, robot)
    kp1, sp1 = loc.keypoints(images)
    kp2, _, used = ref.refine(images, kp1, sp1)
    w, h = robot.camera.width, robot.camera.height
    out = {"stage1_checkpoint": str(loc.path), "n": int(len(images)), "used": float(used.mean())}
    for name, kp in (("stage1", kp1), ("stage2", kp2)):
        px = np.linalg.norm(kp[:, [TARGET, FOOT]] - kp_true[:, [TARGET, FOOT]], axis=2)
        err = []
        for i in range(len(kp)):
            cam = Camera.from_array(cams[i], w, h)
            err.append(np.linalg.norm(locate(cam, kp[i:i + 1, TARGET], kp[i:i + 1, FOOT], table_z(robot))[0] - targets[i]))
        err = np.array(err) * 100
        out[name] = {"target_px": float(np.median(px[:, 0])), "foot_px": float(np.median(px[:, 1])),
                     "median_cm": float(np.median(err)), "p90_cm": float(np.percentile(err, 90))}
    return out


def table_z(robot) -> float:
    from sim2real.perception.geometry import table_height
    from sim2real.tasks.reach import ReachTask
    return table_height(ReachTask.from_robot(robot))


def export_refiner(net, size: int, path: Path) -> None:
    import warnings

    import torch
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, size, size),), str(path), input_names=[INPUT],
                          output_names=list(OUTPUTS),
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
                          dynamo=False)
