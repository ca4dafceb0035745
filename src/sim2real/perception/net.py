"""The perception CNN (torch, for training and ONNX export) and its run-time form (ONNX Runtime).

PerceptionNet: (N, 3, H, W) float RGB in [0, 1] -> target (N, 3) m in the robot's base frame and
sigma (N, 1) m, its own estimate of its error (trained with a Gaussian negative log-likelihood).
Layout, for 96 x 96 (every size a multiple of 8 works):

  image + 2 coordinate channels (CoordConv)   5 x 96 x 96
  conv 5x5 /2, 24, ReLU                        "early" features, 24 x 48 x 48 (weak pairs, Tzeng)
  conv 3x3 /2, 32, ReLU; conv 3x3, 48, ReLU    48 x 24 x 24
     -> spatial soft-argmax per channel (x, y: 96) and global max (48): where and whether
  conv 3x3 /2, 64, ReLU; conv 3x3, 64, ReLU    64 x 12 x 12 -> global mean (64): the scene's layout
  conv 1x1 on the 48 x 24 x 24 features -> 1    the target detector: softmax over the 24 x 24 cells,
     its soft-argmax (2) and the features pooled under it (48); trained on the label's pixel
  MLP 258 -> 256 -> 128 (ReLU)                 the representation (domain confusion acts here)
  head 128 -> 4: target (scaled to the workspace box), log sigma

~30 M multiply-adds an image; single-threaded ONNX Runtime runs it at well over 30 images/s
(measured figure in the checkpoint's metadata and `sim2real eval perception`).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

KIND = "perception"
INPUT, OUTPUTS = "image", ("target", "sigma")
# the default checkpoint (node, graph): the first of these that exists as models/<robot>/perception_<scheme>.pt
DEFAULT_SCHEMES = ("dr+confusion+pairs", "dr+confusion", "dr", "sim-only")


def default_checkpoint(robot: str) -> Path:
    from sim2real import paths
    for s in DEFAULT_SCHEMES:
        p = paths.checkpoint(robot, f"perception_{s}")
        if p.is_file():
            return p
    return paths.checkpoint(robot, f"perception_{DEFAULT_SCHEMES[0]}")


def camera_geometry(cam) -> dict:
    """The nominal camera the decoder casts its rays from (base frame = world: a fixed base at the
    origin): {pos, lookat, fovy_deg} of a robot's CameraSpec, as stored in a checkpoint's metadata."""
    return {"pos": [float(v) for v in cam.pos], "lookat": [float(v) for v in cam.lookat], "fovy_deg": float(cam.fovy_deg)}


def build_net(height: int, width: int, ws_low, ws_high, width_mult: float = 1.0, camera: dict | None = None):
    """camera (camera_geometry): decode along the detected pixel's ray from the nominal camera,
    target = camera + depth * ray + a small residual (the camera's randomized pose is the residual's
    to learn); without it, a box-scaled regression (the first layout)."""
    import torch
    from torch import nn

    def c(n):
        return max(4, int(round(n * width_mult)))

    class SpatialSoftArgmax(nn.Module):
        def __init__(self, h, w):
            super().__init__()
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
            self.register_buffer("pos", torch.stack([xs.reshape(-1), ys.reshape(-1)], 1))   # (HW, 2)
            self.temp = nn.Parameter(torch.zeros(1))

        def forward(self, f):
            n, ch = f.shape[:2]
            p = torch.softmax(f.reshape(n, ch, -1) * torch.exp(self.temp), dim=-1)
            return (p @ self.pos).reshape(n, 2 * ch)

    class PerceptionNet(nn.Module):
        def __init__(self):
            super().__init__()
            ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
            self.register_buffer("coords", torch.stack([xs, ys])[None])
            lo, hi = torch.tensor(ws_low, dtype=torch.float32), torch.tensor(ws_high, dtype=torch.float32)
            self.register_buffer("centre", (lo + hi) / 2)
            self.register_buffer("halfspan", (hi - lo) / 2)
            self.early = nn.Sequential(nn.Conv2d(6, c(24), 5, 2, 2), nn.ReLU())
            self.mid = nn.Sequential(nn.Conv2d(c(24), c(32), 3, 2, 1), nn.ReLU(), nn.Conv2d(c(32), c(48), 3, 1, 1), nn.ReLU())
            self.late = nn.Sequential(nn.Conv2d(c(48), c(64), 3, 2, 1), nn.ReLU(), nn.Conv2d(c(64), c(64), 3, 1, 1), nn.ReLU())
            self.ssm = SpatialSoftArgmax(height // 4, width // 4)
            self.ssm_early = SpatialSoftArgmax(height // 2, width // 2)
            with torch.no_grad():
                self.ssm.temp.fill_(2.3)          # exp: ~10, a peaked softmax from the start
                self.ssm_early.temp.fill_(2.3)
            # the target detector: one logit per 24 x 24 cell (trained on the label's pixel), its
            # soft-argmax (where) and the mid features pooled under it (what it looks like: size, depth)
            self.det = nn.Conv2d(c(48), 1, 1)
            self.red_gain = nn.Parameter(torch.tensor(2.0))
            ys4, xs4 = torch.meshgrid(torch.linspace(-1, 1, height // 4), torch.linspace(-1, 1, width // 4), indexing="ij")
            self.register_buffer("pos4", torch.stack([xs4.reshape(-1), ys4.reshape(-1)], 1))
            n_feat = 2 * c(24) + 2 * c(48) + c(48) + c(64) + 2 + c(48)
            self.mlp = nn.Sequential(nn.Linear(n_feat, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
            self.rays = camera is not None
            if self.rays:
                cpos, look = np.asarray(camera["pos"], float), np.asarray(camera["lookat"], float)
                fwd = (look - cpos) / np.linalg.norm(look - cpos)
                right = np.cross(fwd, [0.0, 0.0, 1.0])
                right /= np.linalg.norm(right)
                up = np.cross(right, fwd)
                f = 0.5 * height / np.tan(np.radians(camera["fovy_deg"]) / 2)
                self.register_buffer("cam_pos", torch.tensor(cpos, dtype=torch.float32))
                self.register_buffer("cam_axes", torch.tensor(np.stack([right, up, fwd]), dtype=torch.float32))
                self.register_buffer("cam_f", torch.tensor([f, height / 2, width / 2], dtype=torch.float32))
                self.depth0 = float(np.linalg.norm((np.asarray(ws_low) + np.asarray(ws_high)) / 2 - cpos))
                self.head = nn.Linear(128, 5)     # residual xyz, depth, log sigma
            else:
                self.head = nn.Linear(128, 4)
            self._uv = None

        @staticmethod
        def redness(x):
            # a fixed "redness" channel (the target's colour family is the cue the renders keep)
            return torch.relu(x[:, 0:1] - torch.maximum(x[:, 1:2], x[:, 2:3])) * 4.0

        def early_features(self, x):
            return self.early(torch.cat([x - 0.5, self.redness(x), self.coords.expand(x.shape[0], -1, -1, -1)], 1))

        def represent_all(self, x):
            """(representation (N, 128), early features (N, C, H/2, W/2), detector logits (N, H/4 * W/4),
            detected pixel (N, 2) in [-1, 1])."""
            e = self.early_features(x)
            m = self.mid(e)
            lt = self.late(m)
            # the detector starts from the cells' redness (a learned gain) and learns what else
            logits = (self.det(m) + self.red_gain * nn.functional.avg_pool2d(self.redness(x), 4)).flatten(1)
            att = torch.softmax(logits, dim=1)
            uv = att @ self.pos4
            pooled = (m.flatten(2) * att[:, None]).sum(-1)
            feat = torch.cat([self.ssm_early(e), self.ssm(m), m.amax(dim=(2, 3)), lt.mean(dim=(2, 3)), uv, pooled], 1)
            return self.mlp(feat), e, logits, uv

        def represent(self, x):
            """(representation (N, 128), early features (N, C, H/2, W/2))."""
            r, e, _, _ = self.represent_all(x)
            return r, e

        def ray(self, uv):
            """Unit rays (N, 3) from the nominal camera through detector coordinates in [-1, 1]
            (cell centres: pixel = 1.5 + 4 * cell)."""
            gh, gw = height // 4, width // 4
            u = 1.5 + 2.0 * (uv[:, 0] + 1) * (gw - 1)
            v = 1.5 + 2.0 * (uv[:, 1] + 1) * (gh - 1)
            f, cy, cx = self.cam_f[0], self.cam_f[1], self.cam_f[2]
            d = torch.stack([(u - cx) / f, (cy - v) / f, torch.ones_like(u)], 1) @ self.cam_axes
            return d / d.norm(dim=1, keepdim=True)

        def decode(self, r, uv=None):
            out = self.head(r)
            if self.rays:
                depth = self.depth0 + 0.4 * out[:, 3:4]
                target = self.cam_pos + depth * self.ray(uv.detach()) + 0.1 * out[:, :3]   # the detector learns from its own loss
                log_sigma = out[:, 4:5].clamp(-7.0, 2.0)
            else:
                target = self.centre + self.halfspan * out[:, :3]
                log_sigma = out[:, 3:4].clamp(-7.0, 2.0)
            return target, torch.exp(log_sigma)

        def forward(self, x):
            r, _, _, uv = self.represent_all(x)
            return self.decode(r, uv)

    return PerceptionNet()


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


class Localizer:
    """A trained perception checkpoint at run time: NAME.json (checked: kind, robot, input size)
    and NAME.onnx through ONNX Runtime on one thread (NAME.pt is training's)."""

    def __init__(self, path: str | Path, robot, threads: int = 1):
        import json

        import onnxruntime as ort

        from sim2real.errors import ConfigError
        from sim2real.learn.checkpoint import checkpoint_files
        pt, meta_path = checkpoint_files(path)
        onnx = pt.with_suffix(".onnx")
        for f in (meta_path, onnx):
            if not f.is_file():
                raise ConfigError(f"{f}: missing (a perception checkpoint is NAME.pt, NAME.json and NAME.onnx; "
                                  f"train one with `sim2real train perception`)")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{meta_path}: unreadable metadata ({e})") from None
        check_meta(meta_path, meta, robot)
        self.meta, self.robot, self.path = meta, robot, pt
        self.height, self.width = int(meta["input"]["height"]), int(meta["input"]["width"])
        self.tol_m = float(meta.get("tol_m", 0.02))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        try:
            self.sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ConfigError(f"{onnx}: ONNX Runtime cannot load it ({e})") from None
        shape = self.sess.get_inputs()[0].shape
        if list(shape[1:]) != [3, self.height, self.width]:
            raise ConfigError(f"{onnx}: takes {shape}, its metadata says 3 x {self.height} x {self.width}")
        self.infer_s: list[float] = []

    @property
    def scheme(self) -> str:
        return str(self.meta.get("scheme", "?"))

    def predict(self, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(target (N, 3) m base frame, sigma (N,) m) of (N, H, W, 3) uint8 RGB at the network's size."""
        from sim2real.image import to_input
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        tg, sg = [], []
        for i in range(0, len(images), batch):
            t0 = time.perf_counter()
            t, s = self.sess.run(None, {INPUT: to_input(images[i:i + batch])})
            self.infer_s.append(time.perf_counter() - t0)
            tg.append(t)
            sg.append(s[:, 0])
        if len(self.infer_s) > 5000:
            del self.infer_s[:2500]
        return np.concatenate(tg).astype(float), np.concatenate(sg).astype(float)


def check_meta(where, meta: dict, robot) -> None:
    from sim2real.errors import ConfigError
    if not isinstance(meta, dict):
        raise ConfigError(f"{where}: metadata is not a JSON object")
    missing = [k for k in ("kind", "robot", "input", "scheme") if k not in meta]
    if missing:
        raise ConfigError(f"{where}: metadata lacks {', '.join(missing)}")
    if meta["kind"] != KIND:
        raise ConfigError(f"{where}: a '{meta['kind']}' checkpoint, this needs '{KIND}'")
    if meta["robot"] != robot.name:
        raise ConfigError(f"{where}: trained for robot {meta['robot']}, not {robot.name}")
    inp = meta["input"]
    if not isinstance(inp, dict) or any(not isinstance(inp.get(k), int) or inp.get(k) < 8 for k in ("height", "width")):
        raise ConfigError(f"{where}: input must give height and width (integers >= 8), got {inp!r}")
    cam = robot.camera
    if cam is not None and (inp["height"] * cam.width != inp["width"] * cam.height):
        raise ConfigError(f"{where}: input {inp['width']}x{inp['height']} has another aspect ratio than the "
                          f"camera's {cam.width}x{cam.height}")


def load_torch(path: str | Path, robot):
    """(PerceptionNet with the checkpoint's weights, metadata): the kit's loader (learn/checkpoint.py,
    weights_only=True, files, kind, robot, state_dict checked) with this network's builder."""
    def build(meta):
        return build_net(meta["input"]["height"], meta["input"]["width"], meta["workspace"]["low"],
                         meta["workspace"]["high"], meta.get("width_mult", 1.0), meta.get("camera_rays"))

    from sim2real.learn.checkpoint import load_module
    return load_module(path, KIND, robot, build, required=("kind", "robot", "input", "scheme", "workspace"),
                       check=lambda where, meta: check_meta(where, meta, robot))
