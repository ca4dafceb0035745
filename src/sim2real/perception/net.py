"""The perception CNN (torch, for training and ONNX export) and its run-time form (ONNX Runtime).

The CNN finds keypoints; perception/geometry.py turns them into the target's 3D position with the
camera's pose (calibrated against the table and the arm at run time). Keypoints, in order: the
target's centre, the foot of the rod it stands on, the table's four top corners, the robot camera's
`landmarks` (arm bodies: link origins, end effector).

KeypointNet: (N, 3, H, W) float RGB in [0, 1] -> keypoints (N, K, 2) px (u right, v down; pixel k
covers [k, k + 1)) and spread (N, K) px, the RMS radius of each keypoint's heatmap (its own
uncertainty: small where it is sure, large where the point is hidden or ambiguous). A small U-Net,
for 128 x 128 (every size a multiple of 16 works):

  image + redness + 2 coordinate channels (CoordConv)  6 x 128 x 128
  conv 5x5 /2, 24                        "early" features, 24 x 64 x 64 (weak pairs, Tzeng)
  conv 3x3 /2, 32; conv 3x3, 32           32 x 32 x 32
  conv 3x3 /2, 64; conv 3x3, 64           64 x 16 x 16
  conv 3x3 /2, 96; conv 3x3, 96           96 x 8 x 8 (the bottleneck) -> mean and max over space:
                                          the representation (192; domain confusion and the weak
                                          pairs act here: the decoder reads the same features, so
                                          the representation cannot dodge the confusion by collapsing)
  up x2 + skip, conv 3x3 -> 64; up x2 + skip, conv 3x3 -> 48; up x2 + skip, conv 1x1 + 3x3 -> 24
  conv 1x1 -> K heatmaps at H/2 x W/2; softmax over each; its mean is the keypoint (integral
  regression, Sun et al. 2018: sub-pixel, differentiable), its spread the RMS radius around it

~110 M multiply-adds an image at 128 px; single-threaded ONNX Runtime runs it well over 30 images/s
(the measured figure is in the checkpoint's metadata and `sim2real eval perception`).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

KIND = "perception"
INPUT, OUTPUTS = "image", ("keypoints", "spread")
# the default checkpoint (node, graph): the first of these that exists as models/<robot>/perception_<scheme>.pt
DEFAULT_SCHEMES = ("dr+confusion+pairs", "dr+confusion", "dr", "sim-only")


def default_checkpoint(robot: str) -> Path:
    from sim2real import paths
    for s in DEFAULT_SCHEMES:
        p = paths.checkpoint(robot, f"perception_{s}")
        if p.is_file():
            return p
    return paths.checkpoint(robot, f"perception_{DEFAULT_SCHEMES[0]}")


def keypoint_names(robot) -> list[str]:
    from sim2real.perception.geometry import known_point_names
    return ["target", "stand_foot", *known_point_names(robot)]


def build_net(height: int, width: int, n_keypoints: int, width_mult: float = 1.0):
    import torch
    from torch import nn

    if height % 16 or width % 16:
        from sim2real.errors import ConfigError
        raise ConfigError(f"the perception net takes sizes that are multiples of 16, got {width}x{height}")

    def c(n):
        return max(4, int(round(n * width_mult)))

    def conv(i, o, k=3, s=1):
        return nn.Sequential(nn.Conv2d(i, o, k, s, k // 2), nn.ReLU())

    class KeypointNet(nn.Module):
        def __init__(self):
            super().__init__()
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
            self.register_buffer("coords", torch.stack([xs, ys])[None])
            self.early = conv(6, c(24), 5, 2)
            self.e2 = nn.Sequential(conv(c(24), c(32), 3, 2), conv(c(32), c(32)))
            self.e3 = nn.Sequential(conv(c(32), c(64), 3, 2), conv(c(64), c(64)))
            self.e4 = nn.Sequential(conv(c(64), c(96), 3, 2), conv(c(96), c(96)))
            self.repr_dim = 2 * c(96)
            self.d3 = conv(c(96) + c(64), c(64))
            self.d2 = conv(c(64) + c(32), c(48))
            self.d1 = nn.Sequential(conv(c(48) + c(24), c(24), 1), conv(c(24), c(24)))
            self.heat = nn.Conv2d(c(24), n_keypoints, 1)
            hh, hw = height // 2, width // 2
            # heatmap cell centres in image pixels (cell i covers pixels 2i, 2i + 1: centre 2i + 1)
            gy, gx = torch.meshgrid(torch.arange(hh) * 2.0 + 1.0, torch.arange(hw) * 2.0 + 1.0, indexing="ij")
            self.register_buffer("grid", torch.stack([gx.reshape(-1), gy.reshape(-1)], 1))   # (HW, 2)
            self.n_kp = n_keypoints

        @staticmethod
        def redness(x):
            # a fixed "redness" channel (the target's colour family is the cue the renders keep)
            return torch.relu(x[:, 0:1] - torch.maximum(x[:, 1:2], x[:, 2:3])) * 4.0

        def early_features(self, x):
            return self.early(torch.cat([x - 0.5, self.redness(x), self.coords.expand(x.shape[0], -1, -1, -1)], 1))

        def represent_all(self, x):
            """(representation (N, 192): the bottleneck's mean and max over space, which the decoder
            turns into the heatmaps; early features (N, C, H/2, W/2); heatmap logits (N, K, H/2 * W/2))."""
            up = nn.functional.interpolate
            e1 = self.early_features(x)
            e2 = self.e2(e1)
            e3 = self.e3(e2)
            e4 = self.e4(e3)
            r = torch.cat([e4.mean(dim=(2, 3)), e4.amax(dim=(2, 3))], 1)
            d = self.d3(torch.cat([up(e4, scale_factor=2.0, mode="nearest"), e3], 1))
            d = self.d2(torch.cat([up(d, scale_factor=2.0, mode="nearest"), e2], 1))
            d = self.d1(torch.cat([up(d, scale_factor=2.0, mode="nearest"), e1], 1))
            return r, e1, self.heat(d).flatten(2)

        def represent(self, x):
            r, e, _ = self.represent_all(x)
            return r, e

        def keypoints(self, logits):
            """(keypoints (N, K, 2) px, spread (N, K) px, probabilities (N, K, cells)) of heatmap logits."""
            p = torch.softmax(logits, dim=-1)
            kp = p @ self.grid
            d2 = ((self.grid[None, None] - kp[:, :, None]) ** 2).sum(-1)
            spread = torch.sqrt((p * d2).sum(-1) + 1e-6)
            return kp, spread, p

        def forward(self, x):
            _, _, logits = self.represent_all(x)
            kp, spread, _ = self.keypoints(logits)
            return kp, spread

    return KeypointNet()


def export_onnx(net, height: int, width: int, path: Path) -> None:
    import warnings

    import torch
    net.eval()
    x = torch.zeros(1, 3, height, width)
    with warnings.catch_warnings():   # the TorchScript exporter (the dynamo one needs onnxscript, not pinned)
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"}, OUTPUTS[1]: {0: "batch"}},
                          dynamo=False)


def confidence(sigma_m, tol_m: float) -> np.ndarray:
    """In (0, 1]: 1 / (1 + (sigma / tol)^2); 0.5 where the net expects an error of the task's tolerance."""
    s = np.asarray(sigma_m, float)
    return 1.0 / (1.0 + (s / tol_m) ** 2)


def open_onnx_checkpoint(path: str | Path, robot, check, what: str, train_cmd: str, threads: int = 1):
    """(NAME.pt path, metadata, ONNX Runtime session) of a perception checkpoint: NAME.json read
    and checked (`check(meta_path, meta, robot)`), NAME.onnx loaded on `threads` threads; a
    ConfigError naming the file and `train_cmd` when a part is missing or unreadable."""
    import onnxruntime as ort

    from sim2real.errors import ConfigError
    from sim2real.learn.checkpoint import checkpoint_files, load_metadata
    pt, meta_path = checkpoint_files(path)
    onnx = pt.with_suffix(".onnx")
    for f in (meta_path, onnx):
        if not f.is_file():
            raise ConfigError(f"{f}: missing (a {what} is NAME.pt, NAME.json and NAME.onnx; "
                              f"train one with `{train_cmd}`)")
    meta = load_metadata(meta_path)
    check(meta_path, meta, robot)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ConfigError(f"{onnx}: ONNX Runtime cannot load it ({e})") from None
    return pt, meta, sess


class Localizer:
    """A trained perception checkpoint at run time: NAME.json (checked: kind, robot, input size,
    keypoints) and NAME.onnx through ONNX Runtime on one thread (NAME.pt is training's), with the
    geometry that turns its keypoints into the target: `camera` starts as the nominal mount and is
    replaced by `calibrate` (the arm's landmarks against forward kinematics)."""

    def __init__(self, path: str | Path, robot, threads: int = 1):
        from sim2real.errors import ConfigError
        from sim2real.perception.geometry import nominal_camera, table_height
        from sim2real.tasks.reach import ReachTask
        pt, meta, self.sess = open_onnx_checkpoint(path, robot, check_meta, "perception checkpoint",
                                                   "sim2real train perception", threads)
        onnx = pt.with_suffix(".onnx")
        self.meta, self.robot, self.path = meta, robot, pt
        self.height, self.width = int(meta["input"]["height"]), int(meta["input"]["width"])
        self.tol_m = float(meta.get("tol_m", 0.02))
        self.sigma_per_spread = float(meta.get("sigma_per_spread", 1.0))
        shape = self.sess.get_inputs()[0].shape
        if list(shape[1:]) != [3, self.height, self.width]:
            raise ConfigError(f"{onnx}: takes {shape}, its metadata says 3 x {self.height} x {self.width}")
        self.scale = robot.camera.width / self.width      # network pixels -> camera pixels
        self.camera0 = self.camera = nominal_camera(robot)
        self.calibration: dict = {}
        self.table_z = table_height(ReachTask.from_robot(robot))
        self.infer_s: list[float] = []

    @property
    def scheme(self) -> str:
        return str(self.meta.get("scheme", "?"))

    def keypoints(self, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints (N, K, 2), spread (N, K)) in the camera's pixels, of (N, H, W, 3) uint8 RGB
        at the network's size or any size of its aspect ratio (resized to it, OpenCV INTER_AREA:
        a 256 px camera's frames for a 128 px network). ValueError for another aspect ratio."""
        from sim2real.image import fit, to_input
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.shape[1:3] != (self.height, self.width):
            resized = []
            for im in images:
                r, problem = fit(im, self.height, self.width)
                if problem:
                    raise ValueError(problem)
                resized.append(r)
            images = np.stack(resized) if resized else np.zeros((0, self.height, self.width, 3), np.uint8)
        kp, sp = [], []
        for i in range(0, len(images), batch):
            t0 = time.perf_counter()
            k, s = self.sess.run(None, {INPUT: to_input(images[i:i + batch])})
            self.infer_s.append(time.perf_counter() - t0)
            kp.append(k)
            sp.append(s)
        if len(self.infer_s) > 5000:
            del self.infer_s[:2500]
        return np.concatenate(kp).astype(float) * self.scale, np.concatenate(sp).astype(float) * self.scale

    def locate(self, kp: np.ndarray, spread: np.ndarray, camera=None) -> tuple[np.ndarray, np.ndarray]:
        """(target (N, 3) m base frame, sigma (N,) m: the expected error) of keypoints."""
        from sim2real.perception.geometry import FOOT, TARGET, locate
        cam = camera or self.camera
        tgt = locate(cam, kp[:, TARGET], kp[:, FOOT], self.table_z)
        m_per_px = np.linalg.norm(tgt - cam.pos, axis=1) / cam.f
        sigma = self.sigma_per_spread * m_per_px * np.hypot(spread[:, TARGET], spread[:, FOOT])
        return tgt, sigma

    def predict(self, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(target (N, 3) m base frame, sigma (N,) m) of (N, H, W, 3) uint8 RGB at the network's size,
        through the current camera."""
        return self.locate(*self.keypoints(images, batch))

    def calibrate(self, kp: np.ndarray, spread: np.ndarray, landmarks_xyz: np.ndarray, max_spread_px: float = 3.0) -> dict:
        """Set `camera` from keypoints (N, K, 2) with their spreads and the known points' positions
        (N, K - KNOWN, 3: geometry.Landmarks); returns the calibration's report."""
        from sim2real.perception.geometry import KNOWN, OnlineCalibration
        cal = OnlineCalibration(self.camera0, max_spread_px=max_spread_px, keep=10 ** 9)
        for k, s, x in zip(kp, spread, landmarks_xyz):
            cal.add(k[KNOWN:], s[KNOWN:], x)
        self.camera = cal.fit()
        self.calibration = cal.report
        return cal.report


def check_meta_head(where, meta, robot, kind: str, keys: tuple[str, ...]) -> None:
    """What every perception checkpoint's metadata must be: a JSON object with `keys`, of `kind`,
    for this robot (a ConfigError naming `where` otherwise)."""
    from sim2real.errors import ConfigError
    if not isinstance(meta, dict):
        raise ConfigError(f"{where}: metadata is not a JSON object")
    missing = [k for k in ("kind", "robot", *keys) if k not in meta]
    if missing:
        raise ConfigError(f"{where}: metadata lacks {', '.join(missing)}")
    if meta["kind"] != kind:
        raise ConfigError(f"{where}: a '{meta['kind']}' checkpoint, this needs '{kind}'")
    if meta["robot"] != robot.name:
        raise ConfigError(f"{where}: trained for robot {meta['robot']}, not {robot.name}")


def check_meta(where, meta: dict, robot, check_keypoints: bool = True) -> None:
    from sim2real.errors import ConfigError
    check_meta_head(where, meta, robot, KIND, ("input", "scheme", "keypoints"))
    inp = meta["input"]
    if not isinstance(inp, dict) or any(not isinstance(inp.get(k), int) or inp.get(k) < 8 for k in ("height", "width")):
        raise ConfigError(f"{where}: input must give height and width (integers >= 8), got {inp!r}")
    cam = robot.camera
    if check_keypoints and cam is not None and meta["keypoints"] != keypoint_names(robot):
        raise ConfigError(f"{where}: finds keypoints {meta['keypoints']}, the robot's camera needs "
                          f"{keypoint_names(robot)} (retrain: `sim2real train perception`)")
    if cam is not None and (inp["height"] * cam.width != inp["width"] * cam.height):
        raise ConfigError(f"{where}: input {inp['width']}x{inp['height']} has another aspect ratio than the "
                          f"camera's {cam.width}x{cam.height}")


def load_torch(path: str | Path, robot, check_keypoints: bool = True):
    """(PerceptionNet with the checkpoint's weights, metadata): the kit's loader (learn/checkpoint.py,
    weights_only=True, files, kind, robot, state_dict checked) with this network's builder."""
    def build(meta):
        return build_net(meta["input"]["height"], meta["input"]["width"], len(meta["keypoints"]),
                         meta.get("width_mult", 1.0))

    from sim2real.learn.checkpoint import load_module
    return load_module(path, KIND, robot, build, required=("kind", "robot", "input", "scheme", "keypoints"),
                       check=lambda where, meta: check_meta(where, meta, robot, check_keypoints))


def load_state(path: str | Path, robot) -> tuple[dict, dict]:
    """(state_dict, metadata) of a perception checkpoint, its metadata checked (kind, robot, input)
    but not its keypoints or layout: what `train perception --init` starts from (it keeps the
    layers and keypoints it shares)."""
    from sim2real.learn.checkpoint import read_metadata, read_state_dict
    pt, meta_path, meta = read_metadata(path, KIND, robot, ("kind", "robot", "input", "scheme", "keypoints"))
    check_meta(meta_path, meta, robot, check_keypoints=False)
    return read_state_dict(pt), meta
