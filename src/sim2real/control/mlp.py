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


def save_checkpoint(path: str | Path, net, meta: dict) -> Path:
    import torch
    path = _pt(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    meta = dict(meta, torch=torch.__version__, numpy=np.__version__)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=_jsonable))
    return path


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def load_checkpoint(path: str | Path, kind: str, robot) -> tuple[NumpyMLP, dict]:
    """(network for the control loop, metadata); ConfigError naming what does not match."""
    import torch
    path = _pt(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise ConfigError(f"{path}: checkpoint missing (need {path.name} and {meta_path.name}); "
                          f"train one with `sim2real train {kind.replace('_', '-')}`")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{meta_path}: unreadable metadata ({e})") from None
    if meta.get("kind") != kind:
        raise ConfigError(f"{path}: a '{meta.get('kind')}' checkpoint, this needs '{kind}'")
    if meta.get("robot") != robot.name or list(meta.get("joint_names", [])) != list(robot.joint_names):
        raise ConfigError(f"{path}: trained for robot {meta.get('robot')} with joints {meta.get('joint_names')}, "
                          f"not {robot.name} {list(robot.joint_names)}")
    try:
        sd = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any load failure is the same user error
        raise ConfigError(f"{path}: cannot load state_dict ({e})") from None
    keys = sorted({k.rsplit(".", 1)[0] for k in sd}, key=lambda k: int(k))
    layers = [(sd[f"{k}.weight"].numpy().astype(np.float64), sd[f"{k}.bias"].numpy().astype(np.float64)) for k in keys]
    if layers[0][0].shape[1] != meta["n_in"] or layers[-1][0].shape[0] != meta["n_out"]:
        raise ConfigError(f"{path}: weights are {layers[0][0].shape[1]} -> {layers[-1][0].shape[0]}, "
                          f"metadata says {meta['n_in']} -> {meta['n_out']}")
    norm = meta["norm"]
    return NumpyMLP(layers, norm["in_mean"], norm["in_std"], norm["out_mean"], norm["out_std"]), meta
