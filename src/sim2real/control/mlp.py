"""Small MLPs for the learned controller parts: torch for training, numpy for the control loop.

A checkpoint is a torch state_dict (`NAME.pt`, loaded with weights_only=True) beside a metadata
file (`NAME.json`: kind, robot, joint names, input/output layout, normalisation, versions).
Loading checks the metadata against the robot and the mode asking for it, so a checkpoint
trained for another robot or another job is refused with a clear error.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError


def build_torch(n_in: int, n_out: int, hidden: tuple[int, ...]):
    import torch.nn as nn
    layers, d = [], n_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class NumpyMLP:
    """ReLU MLP on normalised inputs/outputs: y = out_std * net((x - in_mean) / in_std) + out_mean.
    The hidden layers run in float32 (as trained): half the time of float64 in the control loop."""

    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]], in_mean, in_std, out_mean, out_std):
        self.W = [np.asarray(w, np.float32) for w, _ in weights]
        self.b = [np.asarray(b, np.float32) for _, b in weights]
        self.in_mean, self.in_std = np.asarray(in_mean), np.asarray(in_std)
        self.out_mean, self.out_std = np.asarray(out_mean), np.asarray(out_std)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = ((x - self.in_mean) / self.in_std).astype(np.float32)
        for W, b in zip(self.W[:-1], self.b[:-1]):
            h = np.maximum(W @ h + b, 0.0)
        return self.out_std * (self.W[-1] @ h + self.b[-1]).astype(np.float64) + self.out_mean

    def value_and_jacobian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y, dy/dx) at x: the linearisation a dynamics prior needs. The Jacobian is accumulated
        from the output side (n_out rows), the cheap order for a narrow output."""
        h = ((x - self.in_mean) / self.in_std).astype(np.float32)
        masks = []
        for W, b in zip(self.W[:-1], self.b[:-1]):
            z = W @ h + b
            masks.append(z > 0)
            h = np.where(masks[-1], z, 0.0)
        y = self.out_std * (self.W[-1] @ h + self.b[-1]) + self.out_mean
        J = self.out_std[:, None].astype(np.float32) * self.W[-1]
        for W, m in zip(reversed(self.W[:-1]), reversed(masks)):
            J = (J * m) @ W
        return y.astype(np.float64), J.astype(np.float64) / self.in_std


def _pt(path: str | Path) -> Path:
    """NAME or NAME.pt -> NAME.pt (a dot inside NAME, as in 'model-0.25', is kept)."""
    path = Path(path)
    return path if path.suffix == ".pt" else path.with_name(path.name + ".pt")


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(NAME.pt, NAME.json): the two files of a checkpoint."""
    pt = _pt(path)
    return pt, pt.with_suffix(".json")


def refuse_overwrite(path: str | Path) -> None:
    """ConfigError if a checkpoint already lives at path (call before training, not after)."""
    existing = [str(p) for p in checkpoint_files(path) if p.exists()]
    if existing:
        raise ConfigError(f"{existing[0]}: exists; pass --force to overwrite it (or --out elsewhere)")


def save_checkpoint(path: str | Path, net, meta: dict, overwrite: bool = False) -> Path:
    import torch
    if not overwrite:
        refuse_overwrite(path)
    path, meta_path = checkpoint_files(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    meta = dict(meta, torch=torch.__version__, numpy=np.__version__)
    meta_path.write_text(json.dumps(meta, indent=1, default=_jsonable))
    return path


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


NORM_KEYS = ("in_mean", "in_std", "out_mean", "out_std")


def _check_meta(meta_path: Path, meta, kind: str, robot) -> None:
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_path}: metadata is not a JSON object")
    missing = [k for k in ("kind", "robot", "joint_names", "n_in", "n_out", "hidden", "norm") if k not in meta]
    if missing:
        raise ConfigError(f"{meta_path}: metadata lacks {', '.join(missing)}")
    if meta["kind"] != kind:
        raise ConfigError(f"{meta_path}: a '{meta['kind']}' checkpoint, this needs '{kind}'")
    if meta["robot"] != robot.name or list(meta["joint_names"]) != list(robot.joint_names):
        raise ConfigError(f"{meta_path}: trained for robot {meta['robot']} with joints {meta['joint_names']}, "
                          f"not {robot.name} {list(robot.joint_names)}")
    try:
        sizes = [int(meta["n_in"]), *[int(h) for h in meta["hidden"]], int(meta["n_out"])]
    except (TypeError, ValueError):
        raise ConfigError(f"{meta_path}: n_in, hidden and n_out must be integers") from None
    if min(sizes) < 1:
        raise ConfigError(f"{meta_path}: layer sizes {sizes} must be >= 1")
    norm = meta["norm"]
    if not isinstance(norm, dict) or any(k not in norm for k in NORM_KEYS):
        raise ConfigError(f"{meta_path}: norm must hold {', '.join(NORM_KEYS)}")
    for key, n in zip(NORM_KEYS, (sizes[0], sizes[0], sizes[-1], sizes[-1])):
        try:
            v = np.asarray(norm[key], float)
        except (TypeError, ValueError):
            raise ConfigError(f"{meta_path}: norm.{key} is not a list of numbers") from None
        if v.shape != (n,) or not np.all(np.isfinite(v)) or (key.endswith("std") and np.any(v <= 0)):
            raise ConfigError(f"{meta_path}: norm.{key} must be {n} finite numbers"
                              f"{' > 0' if key.endswith('std') else ''}, got shape {v.shape}")


def load_checkpoint(path: str | Path, kind: str, robot) -> tuple[NumpyMLP, dict]:
    """(network for the control loop, metadata); ConfigError naming the file and what does not
    match: missing files or metadata keys, another kind or robot, state_dict keys or shapes that
    are not the MLP the metadata describes, non-finite weights."""
    import torch
    path, meta_path = checkpoint_files(path)
    if not path.is_file() or not meta_path.is_file():
        raise ConfigError(f"{path}: checkpoint missing (need {path.name} and {meta_path.name}); "
                          f"train one with `sim2real train {kind.replace('_', '-')}`")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{meta_path}: unreadable metadata ({e})") from None
    _check_meta(meta_path, meta, kind, robot)
    try:
        sd = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any load failure is the same user error
        raise ConfigError(f"{path}: cannot load state_dict ({type(e).__name__}: {e})") from None
    sizes = [int(meta["n_in"]), *[int(h) for h in meta["hidden"]], int(meta["n_out"])]
    expected = {}   # build_torch's nn.Sequential: Linear layers at indices 0, 2, 4, ...
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        expected[f"{2 * i}.weight"], expected[f"{2 * i}.bias"] = (d_out, d_in), (d_out,)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ConfigError(f"{path}: not a state_dict of tensors")
    if set(sd) != set(expected):
        missing, extra = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
        raise ConfigError(f"{path}: state_dict keys do not match the MLP {sizes} of its metadata"
                          + (f"; missing {', '.join(missing)}" if missing else "")
                          + (f"; unexpected {', '.join(extra[:5])}" if extra else ""))
    for k, shape in expected.items():
        if tuple(sd[k].shape) != shape:
            raise ConfigError(f"{path}: {k} has shape {tuple(sd[k].shape)}, the metadata's MLP {sizes} needs {shape}")
        if not torch.isfinite(sd[k]).all():
            raise ConfigError(f"{path}: {k} holds non-finite values")
    layers = [(sd[f"{2 * i}.weight"].numpy().astype(np.float64), sd[f"{2 * i}.bias"].numpy().astype(np.float64))
              for i in range(len(sizes) - 1)]
    norm = meta["norm"]
    return NumpyMLP(layers, norm["in_mean"], norm["in_std"], norm["out_mean"], norm["out_std"]), meta
