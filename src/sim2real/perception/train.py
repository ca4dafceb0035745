"""Training the perception CNN (perception/net.py): target position from the camera image.

Schemes:
  sim-only             renders of the nominal scene (random arm poses and targets, nothing else varies)
  dr                   domain-randomized renders (Tobin et al. 2017; perception/render.py)
  dr+confusion         dr, plus unlabeled target-domain images (an .mcap recording of
                       /camera/image_raw, e.g. from the twin): a domain classifier on the
                       representation and a confusion loss that trains the representation to fool
                       it (Tzeng et al. 2016, Alg. 1: the classifier and the representation updated
                       alternately; confusion = cross-entropy against the uniform domain label)
  dr+confusion+pairs   that, plus weak pairs: each target image is paired with its nearest source
                       image in the early-layer features (cosine, among the labelled source batch of
                       the step; the features of the network being trained, without gradient), and
                       a pairwise loss pulls the paired representations together

Task loss (labelled renders only): the keypoints (the renderer's `kp` labels: the target, its
stand's foot, the camera's landmarks), each a cross-entropy of the net's heatmap against a Gaussian
of one cell around the label plus a Huber loss (1 px) of its soft-argmax, keypoints outside the image
left out; the target and foot count twice. The 3D target follows by geometry (perception/geometry.py);
validation reports it through each image's true camera (the keypoints' quality) and through the
nominal mount (what an uncalibrated camera would give), and fits `sigma_per_spread`, which turns the
heatmaps' spread into the expected error in metres the node's confidence reads.

Writes NAME.pt (state_dict, loaded with weights_only=True), NAME.json (kind 'perception', robot,
scheme, input size, workspace, data, wall time, validation error), NAME.onnx (ONNX Runtime at run
time), NAME-curve.csv and NAME-curve.png (per epoch: losses, validation median/p90 error).
"""
from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError
from sim2real.perception.net import KIND

SCHEMES = ("sim-only", "dr", "dr+confusion", "dr+confusion+pairs")
ADAPTIVE = ("dr+confusion", "dr+confusion+pairs")


@dataclass
class TrainConfig:
    scheme: str = "dr"
    images: int = 8000          # rendered when no dataset is given
    epochs: int = 8
    batch: int = 32
    lr: float = 2e-3
    seed: int = 0
    val_frac: float = 0.1
    width_mult: float = 1.0     # channel multiplier of the layout (perception/net.py)
    threads: int = 2
    confusion_weight: float = 0.1
    pair_weight: float = 0.1
    target_max: int = 2000      # target-domain images used at most (evenly spread over the recording)
    time_budget_s: float = 0.0  # > 0: training wall time: the learning rate follows warm-up + cosine over it
                                #      (not over the epochs) and training stops when it is spent
    init: str = ""              # start from this perception checkpoint (e.g. adaptation after dr)
    input_height: int = 128     # the network's input: the camera's frames resized to it (OpenCV INTER_AREA),
                                # at most the camera's size, its aspect ratio (stage 2, refine.py, reads the
                                # camera's own pixels)


def input_size(robot, height: int = 128) -> tuple[int, int]:
    """(height, width) of the stage-1 network's input for the robot's camera: the camera's size when
    it is at most `height` rows, else scaled down to `height` rows (width to the aspect ratio)."""
    ch, cw = robot.camera.height, robot.camera.width
    if ch <= height:
        return ch, cw
    return height, int(round(cw * height / ch))


def load_target_images(path: str | Path, height: int, width: int, topic: str = "/camera/image_raw",
                       max_images: int = 2000) -> tuple[np.ndarray, dict]:
    """Unlabeled target-domain images from a recording: (N, H, W, 3) uint8, report."""
    from sim2real.data.mcap_io import read_messages
    from sim2real.image import decode_msg, fit
    msgs = [m for _, m, _ in read_messages(path, [topic])]
    if not msgs:
        raise ConfigError(f"{path}: no {topic} messages (record the camera: "
                          f"`sim2real record -o REC.mcap --topics /camera/image_raw`)")
    idx = np.unique(np.linspace(0, len(msgs) - 1, min(max_images, len(msgs))).astype(int))
    out, bad = [], {}
    for i in idx:
        img, problem = decode_msg(msgs[i])
        if img is not None:
            img, problem = fit(img, height, width)
        if problem:
            bad[problem] = bad.get(problem, 0) + 1
            continue
        out.append(img)
    if not out:
        raise ConfigError(f"{path}: none of {len(idx)} {topic} images is usable ({'; '.join(bad)})")
    return np.stack(out), {"file": str(path), "topic": topic, "messages": len(msgs), "used": len(out),
                           "refused": bad}


def errors_cm(pred: np.ndarray, target: np.ndarray) -> dict:
    e = np.linalg.norm(np.asarray(pred) - np.asarray(target), axis=1) * 100.0
    return {"median_cm": float(np.median(e)), "p90_cm": float(np.percentile(e, 90)), "mean_cm": float(np.mean(e)),
            "n": int(len(e))}


def _keypoints_torch(net, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    import torch
    net.eval()
    kp, sp = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float() / 255.0
            k, s = net(x)
            kp.append(k.numpy())
            sp.append(s.numpy())
    net.train()
    return np.concatenate(kp), np.concatenate(sp)


def validate(kp: np.ndarray, spread: np.ndarray, arrays: dict, robot, cam0, table_z: float) -> dict:
    """Keypoint pixel errors, the target's 3D error through each image's true camera and through
    the nominal mount, and sigma_per_spread (median 3D error / median spread in metres)."""
    from sim2real.perception.geometry import FOOT, TARGET, Camera, locate
    h, w = robot.camera.height, robot.camera.width
    px = np.linalg.norm(kp - arrays["kp"], axis=2)
    inside = _inside(arrays["kp"], w, h)
    tgt = np.zeros((len(kp), 3))
    m_per_px = np.zeros(len(kp))
    for i in range(len(kp)):
        cam = Camera.from_array(arrays["camera"][i], w, h)
        tgt[i] = locate(cam, kp[i:i + 1, TARGET], kp[i:i + 1, FOOT], table_z)[0]
        m_per_px[i] = np.linalg.norm(tgt[i] - cam.pos) / cam.f
    err = np.linalg.norm(tgt - arrays["target"], axis=1)
    nominal = locate(cam0, kp[:, TARGET], kp[:, FOOT], table_z)
    sp_m = m_per_px * np.hypot(spread[:, TARGET], spread[:, FOOT])
    out = {"val_median_cm": float(np.median(err) * 100), "val_p90_cm": float(np.percentile(err, 90) * 100),
           "val_nominal_camera_median_cm": float(np.median(np.linalg.norm(nominal - arrays["target"], axis=1)) * 100),
           "val_target_px": float(np.median(px[:, TARGET][inside[:, TARGET]])),
           "val_foot_px": float(np.median(px[:, FOOT][inside[:, FOOT]])),
           "sigma_per_spread": float(np.median(err) / max(1e-9, np.median(sp_m)))}
    if kp.shape[1] > 2:
        out["val_landmark_px"] = float(np.median(px[:, 2:][inside[:, 2:]]))
        out["val_px_per_keypoint"] = [float(np.median(px[:, k][inside[:, k]])) if inside[:, k].any() else float("nan")
                                      for k in range(kp.shape[1])]
    return out


def _inside(kp: np.ndarray, w: int, h: int, margin: float = 1.0) -> np.ndarray:
    return (kp[..., 0] >= margin) & (kp[..., 0] < w - margin) & (kp[..., 1] >= margin) & (kp[..., 1] < h - margin)


def train(robot, cfg: TrainConfig, out: str | Path, *, dataset: str | Path | None = None,
          target_data: str | Path | None = None, force: bool = False, progress: bool = True,
          log=None) -> dict:
    """Train one scheme; write NAME.pt/.json/.onnx and the curves; returns a summary."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from sim2real.learn.checkpoint import save_checkpoint
    from sim2real.perception.geometry import nominal_camera, table_height
    from sim2real.perception.net import build_net, export_onnx, keypoint_names
    from sim2real.perception.render import load_dataset, render_images
    from sim2real.sim.randomize import load_randomization
    from sim2real.tasks.reach import ReachTask
    log = log or (lambda m: None)
    if cfg.scheme not in SCHEMES:
        raise ConfigError(f"unknown scheme '{cfg.scheme}'; choose one of: {', '.join(SCHEMES)}")
    if cfg.scheme in ADAPTIVE and not target_data:
        raise ConfigError(f"--scheme {cfg.scheme} needs --target-data REC.mcap (unlabeled camera images of the "
                          f"target domain: `sim2real up --backend twin --reality FILE --record REC.mcap "
                          f"--record-topics /camera/image_raw`)")
    if target_data and cfg.scheme not in ADAPTIVE:
        raise ConfigError(f"--target-data is for --scheme {' or '.join(ADAPTIVE)}, not {cfg.scheme}")
    out = check_training(robot, cfg, out, force)
    h, w = robot.camera.height, robot.camera.width
    task = ReachTask.from_robot(robot)
    names = keypoint_names(robot)
    mode = "nominal" if cfg.scheme == "sim-only" else "randomized"
    t_start = time.perf_counter()
    if dataset:
        arrays, dcfg = load_dataset(dataset, robot)
        if dcfg.get("mode") != mode:
            raise ConfigError(f"{dataset}: a '{dcfg.get('mode')}' dataset; --scheme {cfg.scheme} trains on '{mode}' renders")
        data_info = {"dataset": str(dataset), "mode": mode, "n": int(len(arrays["images"])), "seed": dcfg.get("seed")}
    else:
        visuals = load_randomization(robot).visuals if mode == "randomized" else {}
        arrays = render_images(robot, cfg.images, mode, visuals, seed=cfg.seed, workers=cfg.threads,
                               progress=progress, desc=f"render {mode}")
        data_info = {"rendered": True, "mode": mode, "n": cfg.images, "seed": cfg.seed,
                     "render_s": round(time.perf_counter() - t_start, 1)}
    images = arrays["images"]
    if images.shape[1:3] != (h, w):
        raise ConfigError(f"dataset images are {images.shape[2]}x{images.shape[1]}, the camera {w}x{h}")
    hi, wi = input_size(robot, cfg.input_height)
    scale = w / wi                      # network pixels -> camera pixels (the labels' and validation's)
    if (hi, wi) != (h, w):
        from sim2real.image import fit
        images = np.stack([fit(im, hi, wi)[0] for im in images])
        log(f"frames resized {w}x{h} -> {wi}x{hi} (INTER_AREA), the network's input")
    if arrays["kp"].shape[1] != len(names):
        raise ConfigError(f"dataset labels {arrays['kp'].shape[1]} keypoints, the camera needs {len(names)} ({', '.join(names)})")
    tgt_images, tgt_info = None, None
    if target_data:
        tgt_images, tgt_info = load_target_images(target_data, hi, wi, max_images=cfg.target_max)
        log(f"target domain: {tgt_info['used']} images of {tgt_info['messages']} in {target_data}")

    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(images))
    n_val = max(1, int(round(cfg.val_frac * len(images)))) if len(images) > 1 else 0
    val_idx, tr_idx = perm[:n_val], perm[n_val:] if n_val < len(images) else perm
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    net = build_net(hi, wi, len(names), cfg.width_mult)
    init_info = None
    if cfg.init:
        from sim2real.perception.net import load_state
        state, init_meta = load_state(cfg.init, robot)
        if init_meta.get("width_mult", 1.0) != cfg.width_mult:
            raise ConfigError(f"--init {cfg.init}: width {init_meta.get('width_mult', 1.0)}, this training builds "
                              f"width {cfg.width_mult}")
        # keypoints it shares with this training keep their heatmap rows; new ones start fresh
        rows = {nm: i for i, nm in enumerate(init_meta["keypoints"])}
        fresh = net.state_dict()
        for key in ("heat.weight", "heat.bias"):
            heat = fresh[key].clone()
            for j, nm in enumerate(names):
                if nm in rows:
                    heat[j] = state[key][rows[nm]]
            state[key] = heat
        missing = [k for k in fresh if k not in state]
        if missing:
            raise ConfigError(f"--init {cfg.init}: its network lacks {', '.join(missing[:4])}: another layout")
        net.load_state_dict({k: v for k, v in state.items() if k in fresh})   # a dropped layer's weights go
        init_info = {"checkpoint": str(cfg.init), "scheme": init_meta.get("scheme"),
                     "train_wall_s": init_meta.get("train_wall_s"),
                     "new_keypoints": [nm for nm in names if nm not in rows]}
        log(f"init from {cfg.init} ({init_meta.get('scheme')}, trained {init_meta.get('train_wall_s')} s)")
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    steps_per_epoch = max(1, len(tr_idx) // cfg.batch)
    if cfg.time_budget_s > 0:
        def lr_at(frac):      # warm-up over the first 10 % of the budget, then cosine to 2 % of lr
            if frac < 0.1:
                return cfg.lr * max(0.04, frac / 0.1)
            return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, (frac - 0.1) / 0.9))))
        sched = None
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
                                                    pct_start=0.15)
    disc = dopt = None
    if cfg.scheme in ADAPTIVE:
        disc = torch.nn.Sequential(torch.nn.Linear(net.repr_dim, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
        dopt = torch.optim.Adam(disc.parameters(), lr=cfg.lr)
    pairs = cfg.scheme == "dr+confusion+pairs"
    imgs_t = torch.from_numpy(images)
    kp_t = torch.from_numpy(arrays["kp"].astype(np.float32) / np.float32(scale))
    vis_t = torch.from_numpy(_inside(arrays["kp"], w, h).astype(np.float32))
    kp_w = torch.tensor([2.0, 2.0] + [1.0] * (len(names) - 2))
    tgt_t = torch.from_numpy(tgt_images) if tgt_images is not None else None
    cam0 = nominal_camera(robot)
    table_z = table_height(task)

    def batch_x(src, idx):
        return src[idx].permute(0, 3, 1, 2).float().div_(255.0)

    def early_vec(x):
        with torch.no_grad():
            e = net.early_features(x)
            e = F.adaptive_avg_pool2d(e, 12).flatten(1)
            return F.normalize(e, dim=1)

    rows: list[dict] = []
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.epochs * steps_per_epoch, desc=f"train perception {cfg.scheme}", unit="step",
               disable=not progress)
    seen = 0
    spent = False
    val_arrays = {k: arrays[k][val_idx] for k in ("kp", "camera", "target")}
    for epoch in range(cfg.epochs):
        order = rng.permutation(tr_idx)
        sums = {"task": 0.0, "px": 0.0, "confusion": 0.0, "disc_acc": 0.0, "pair": 0.0}
        done = 0
        for s in range(steps_per_epoch):
            if sched is None:
                frac = (time.perf_counter() - t0) / cfg.time_budget_s
                if frac >= 1.0:
                    spent = True
                    break
                for g in opt.param_groups + (dopt.param_groups if dopt is not None else []):
                    g["lr"] = lr_at(frac)
            idx = torch.from_numpy(order[s * cfg.batch:(s + 1) * cfg.batch])
            x, y, vis = batch_x(imgs_t, idx), kp_t[idx], vis_t[idx]
            r, _, logits = net.represent_all(x)
            kp, _, _ = net.keypoints(logits)
            # heatmap cross-entropy against a Gaussian of one cell (2 px) around each label
            d2 = ((net.grid[None, None] - y[:, :, None]) ** 2).sum(-1)
            soft = torch.softmax(-d2 / (2 * 2.0 ** 2), dim=-1)
            ce = -(soft * F.log_softmax(logits, -1)).sum(-1)                      # (B, K)
            px = F.huber_loss(kp, y, reduction="none", delta=1.0).sum(-1)          # (B, K)
            wv = vis * kp_w
            task_loss = ((ce + 0.5 * px) * wv).sum() / wv.sum().clamp(min=1.0)
            loss = task_loss
            if disc is not None:
                ti = torch.from_numpy(rng.integers(0, len(tgt_t), cfg.batch))
                xt = batch_x(tgt_t, ti)
                rt, _ = net.represent(xt)
                # 1) the domain classifier on the current (fixed) representation
                dl = disc(torch.cat([r.detach(), rt.detach()]))
                dom = torch.cat([torch.zeros(len(r)), torch.ones(len(rt))])[:, None]
                d_loss = F.binary_cross_entropy_with_logits(dl, dom)
                dopt.zero_grad()
                d_loss.backward()
                dopt.step()
                sums["disc_acc"] += float(((dl > 0).float() == dom).float().mean())
                # 2) confusion: the representation makes the classifier's output uniform
                lg = disc(torch.cat([r, rt]))
                conf = 0.5 * (F.binary_cross_entropy_with_logits(lg, torch.zeros_like(lg))
                              + F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg)))
                loss = loss + cfg.confusion_weight * conf
                sums["confusion"] += conf.item()
                if pairs:
                    nn_idx = (early_vec(xt) @ early_vec(x).T).argmax(1)     # weak pairs, in the source batch
                    pair_loss = ((r[nn_idx] - rt) ** 2).sum(1).mean() / r.shape[1]
                    loss = loss + cfg.pair_weight * pair_loss
                    sums["pair"] += pair_loss.item()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            if sched is not None:
                sched.step()
            done += 1
            sums["task"] += task_loss.item()
            with torch.no_grad():
                sums["px"] += float((torch.linalg.norm(kp[:, :2] - y[:, :2], dim=-1) * vis[:, :2]).sum()
                                    / vis[:, :2].sum().clamp(min=1.0))
            seen += len(idx)
            bar.update(1)
            if s % 10 == 0:
                bar.set_postfix(px=f"{sums['px'] / done:.2f}")
        if not done:
            break
        row = {"epoch": epoch + 1, "images_seen": seen, "wall_s": round(time.perf_counter() - t0, 1),
               **{f"train_{k}": v / done for k, v in sums.items()}}
        if n_val:
            vk, vs = _keypoints_torch(net, images[val_idx])
            vk, vs = vk * scale, vs * scale
            row.update(validate(vk, vs, val_arrays, robot, cam0, table_z))
        rows.append(row)
        bar.set_postfix(val_median_cm=f"{row.get('val_median_cm', float('nan')):.2f}")
        if log_epoch(log, row, spent, cfg.time_budget_s, cfg.epochs):
            break
    bar.close()
    wall = time.perf_counter() - t0
    net.eval()
    meta = {"kind": KIND, "robot": robot.name, "joint_names": list(robot.joint_names), "scheme": cfg.scheme,
            "input": {"height": hi, "width": wi, "channels": 3, "layout": "NCHW float32 RGB in [0, 1]"},
            "outputs": {"keypoints": "(N, K, 2) px, u right, v down", "spread": "(N, K) px, each heatmap's RMS radius"},
            "keypoints": names, "camera": robot.camera.name, "table_z": table_z,
            "workspace": {"low": task.low.tolist(), "high": task.high.tolist()}, "tol_m": task.tol_m,
            "sigma_per_spread": rows[-1].get("sigma_per_spread", 1.0) if rows else 1.0,
            "width_mult": cfg.width_mult, "init": init_info, "data": data_info, "target_data": tgt_info,
            "config": asdict(cfg), "epochs_run": len(rows), "images_seen": seen, "train_wall_s": round(wall, 1),
            "total_wall_s": round(time.perf_counter() - t_start, 1), "final": rows[-1] if rows else {}}
    from sim2real.learn.checkpoint import checkpoint_files
    onnx = checkpoint_files(out)[0].with_suffix(".onnx")
    onnx.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(net, hi, wi, onnx)
    meta["onnx_images_per_s_1thread"] = round(measure_onnx(onnx, hi, wi), 1)
    pt = save_checkpoint(out, net, meta, overwrite=True)
    write_curves(rows, pt.with_name(pt.stem + "-curve"), f"{robot.name} perception {cfg.scheme}")
    return {"checkpoint": str(pt), "wall_s": wall, "final": rows[-1] if rows else {}, "meta": meta}


def check_training(robot, cfg, out, force: bool) -> Path:
    """What every perception training checks first (counts >= 1, no checkpoint overwritten
    without force, a camera on the robot); the output path."""
    from sim2real.learn.checkpoint import refuse_overwrite
    for k in ("epochs", "batch", "images"):
        if getattr(cfg, k) < 1:
            raise ConfigError(f"--{k} must be >= 1, got {getattr(cfg, k)}")
    out = Path(out)
    if not force:
        refuse_overwrite(out)
    if robot.camera is None:
        raise ConfigError(f"robot '{robot.name}' has no camera")
    return out


def log_epoch(log, row: dict, spent: bool, budget_s: float, epochs: int | None = None) -> bool:
    """One epoch's line (its float figures), and the time budget's when it is spent; spent."""
    e = row["epoch"]
    log(f"epoch {e}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items() if isinstance(v, float)))
    if spent:
        log(f"time budget {budget_s:.0f} s spent in epoch {e}" + (f" of {epochs}" if epochs else ""))
    return spent


def measure_onnx(onnx: Path, h: int, w: int, n: int = 100) -> float:
    """Single-image, single-thread ONNX Runtime images per second."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, h, w)).astype(np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(5):
        sess.run(None, {name: x})
    t0 = time.perf_counter()
    for _ in range(n):
        sess.run(None, {name: x})
    return n / (time.perf_counter() - t0)


def write_curves(rows: list[dict], stem: Path, title: str) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(f"{stem}.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=keys)
        wr.writeheader()
        wr.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(x, [r["train_px"] for r in rows], label="train target/foot px")
    if "val_median_cm" in rows[0]:
        ax[0].plot(x, [r["val_median_cm"] for r in rows], label="val median cm (true camera)")
        ax[0].plot(x, [r["val_p90_cm"] for r in rows], label="val p90 cm")
        ax[0].plot(x, [r["val_nominal_camera_median_cm"] for r in rows], label="val median cm (nominal camera)")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("error")
    ax[0].set_yscale("log")
    ax[0].legend()
    if any(r.get("train_disc_acc") for r in rows):
        ax[1].plot(x, [r["train_disc_acc"] for r in rows], label="domain classifier accuracy")
        ax[1].plot(x, [r["train_confusion"] for r in rows], label="confusion loss")
        if any(r.get("train_pair") for r in rows):
            ax[1].plot(x, [r["train_pair"] for r in rows], label="pair loss")
        ax[1].legend()
    else:
        ax[1].plot(x, [r["train_task"] for r in rows])
        ax[1].set_ylabel("keypoint loss")
    ax[1].set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(f"{stem}.png", dpi=90)
    plt.close(fig)
