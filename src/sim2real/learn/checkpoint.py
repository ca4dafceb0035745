"""The one checkpoint format of every learned part, and its one loader.

A checkpoint is two files side by side (`paths.checkpoint(robot, kind)` is where the default
one of each kind lives):

  NAME.pt    the network's torch state_dict, loaded with `weights_only=True` (tensors, no code)
  NAME.json  metadata:
    kind         str    what the network is for ('dynamics_prior', 'inverse_dynamics', ...)
    robot        str    the registered robot it was trained for
    joint_names  list   that robot's joint order, the order of every per-joint input and output
    n_in, n_out  int    input and output sizes
    hidden       list   hidden layer widths of the ReLU MLP (learn/networks.py)
    norm         dict   in_mean, in_std (n_in,), out_mean, out_std (n_out,): the network sees
                        (x - in_mean) / in_std and its output is scaled back by out_std, out_mean
    inputs, outputs str the layout in words, with units
    sim2real, torch, numpy, created: versions and time of writing
    ...                 fields of the kind (history, lookahead, action, target, samples, seed,
                        val_mse_normalised); a loader checks those it relies on as its `layout`

Loading checks the metadata against the robot, the kind and the layout the caller needs, and
the state_dict against the MLP the metadata describes (load_checkpoint) or against the network a
caller's builder makes from it (load_module: the perception CNN), so a checkpoint trained for another
robot, another job or another input layout, or a damaged one, is a ConfigError naming the file
and the mismatch; never a traceback or a silently wrong network.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sim2real import __version__ as VERSION
from sim2real.errors import ConfigError
from sim2real.learn.networks import NumpyMLP, state_shapes

NORM_KEYS = ("in_mean", "in_std", "out_mean", "out_std")
REQUIRED = ("kind", "robot", "joint_names", "n_in", "n_out", "hidden", "norm")


def metadata(kind: str, robot, n_in: int, n_out: int, hidden, norm: dict, **extra) -> dict:
    """The metadata of a new checkpoint (the fields above; `extra` adds the kind's own)."""
    return {"kind": kind, "robot": robot.name, "joint_names": list(robot.joint_names), "n_in": n_in,
            "n_out": n_out, "hidden": list(hidden), "norm": norm, "sim2real": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(NAME.pt, NAME.json) for NAME or NAME.pt (a dot inside NAME, as in 'model-0.25', is kept)."""
    path = Path(path)
    pt = path if path.suffix == ".pt" else path.with_name(path.name + ".pt")
    return pt, pt.with_suffix(".json")


def refuse_overwrite(path: str | Path) -> None:
    """ConfigError if a checkpoint already lives at path (call before training, not after)."""
    existing = [str(p) for p in checkpoint_files(path) if p.exists()]
    if existing:
        raise ConfigError(f"{existing[0]}: exists; pass --force to overwrite it (or --out elsewhere)")


def save_checkpoint(path: str | Path, net, meta: dict, overwrite: bool = False) -> Path:
    """Write NAME.pt and NAME.json; returns NAME.pt."""
    import torch
    if not overwrite:
        refuse_overwrite(path)
    pt, meta_path = checkpoint_files(path)
    pt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), pt)
    meta = dict(meta, torch=torch.__version__, numpy=np.__version__)
    meta_path.write_text(json.dumps(meta, indent=1, default=_jsonable))
    return pt


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def check_layout(where: str | Path, meta: dict, layout: dict) -> None:
    """ConfigError unless meta[key] == value for every item of layout (what the caller needs)."""
    for key, want in layout.items():
        if meta.get(key) != want:
            raise ConfigError(f"{where}: {key} is {meta.get(key)!r}, this needs {want!r} (retrain it)")


def _sizes(meta_path: Path, meta) -> list[int]:
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_path}: metadata is not a JSON object")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise ConfigError(f"{meta_path}: metadata lacks {', '.join(missing)}")
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
    return sizes


TRAIN_COMMAND = {"reach_policy": "policy", "perception": "perception"}   # kind -> `sim2real train` subcommand


def load_metadata(meta_path: Path):
    """A checkpoint's NAME.json, parsed; ConfigError naming the file when it cannot be read."""
    try:
        return json.loads(Path(meta_path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{meta_path}: unreadable metadata ({e})") from None


def read_metadata(path: str | Path, kind: str, robot, required=REQUIRED) -> tuple[Path, Path, dict]:
    """(NAME.pt, NAME.json, metadata) of a checkpoint of `kind` for `robot`: both files there, the
    metadata readable, holding `required`, of that kind and robot (and its joint order, where the
    metadata names joints); ConfigError naming the file and the mismatch otherwise."""
    pt, meta_path = checkpoint_files(path)
    if not pt.is_file() or not meta_path.is_file():
        raise ConfigError(f"{pt}: checkpoint missing (need {pt.name} and {meta_path.name}); "
                          f"train one with `sim2real train {TRAIN_COMMAND.get(kind, kind.replace('_', '-'))}`")
    meta = load_metadata(meta_path)
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_path}: metadata is not a JSON object")
    missing = [k for k in required if k not in meta]
    if missing:
        raise ConfigError(f"{meta_path}: metadata lacks {', '.join(missing)}")
    if meta["kind"] != kind:
        raise ConfigError(f"{meta_path}: a '{meta['kind']}' checkpoint, this needs '{kind}'")
    if meta["robot"] != robot.name or ("joint_names" in meta and list(meta["joint_names"]) != list(robot.joint_names)):
        raise ConfigError(f"{meta_path}: trained for robot {meta['robot']} with joints {meta.get('joint_names')}, "
                          f"not {robot.name} {list(getattr(robot, 'joint_names', []))}")
    return pt, meta_path, meta


def read_state_dict(pt: Path) -> dict:
    """The state_dict of tensors at pt (weights_only), unchecked against any network."""
    import torch
    try:
        sd = torch.load(pt, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any load failure is the same user error
        raise ConfigError(f"{pt}: cannot load state_dict ({type(e).__name__}: {e})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ConfigError(f"{pt}: not a state_dict of tensors")
    return sd


def _state_dict(pt: Path, expected: dict, what: str) -> dict:
    """The state_dict at pt, checked against {key: shape} of the network `what` names."""
    import torch
    sd = read_state_dict(pt)
    if set(sd) != set(expected):
        missing, extra = sorted(set(expected) - set(sd)), sorted(set(sd) - set(expected))
        raise ConfigError(f"{pt}: state_dict keys do not match the {what} of its metadata"
                          + (f"; missing {', '.join(missing)}" if missing else "")
                          + (f"; unexpected {', '.join(extra[:5])}" if extra else ""))
    for k, shape in expected.items():
        if tuple(sd[k].shape) != tuple(shape):
            raise ConfigError(f"{pt}: {k} has shape {tuple(sd[k].shape)}, the metadata's {what} needs {tuple(shape)}")
        if sd[k].is_floating_point() and not torch.isfinite(sd[k]).all():
            raise ConfigError(f"{pt}: {k} holds non-finite values")
    return sd


def load_checkpoint(path: str | Path, kind: str, robot, layout: dict | None = None) -> tuple[NumpyMLP, dict]:
    """(network for the control loop, metadata). layout: metadata fields the caller relies on
    (e.g. {'n_in': 14, 'target': 'residual'}), checked like the robot and the kind."""
    pt, meta_path, meta = read_metadata(path, kind, robot)
    sizes = _sizes(meta_path, meta)
    check_layout(meta_path, meta, layout or {})
    sd = _state_dict(pt, state_shapes(sizes), f"MLP {sizes}")
    layers = [(sd[f"{2 * i}.weight"].numpy().astype(np.float64), sd[f"{2 * i}.bias"].numpy().astype(np.float64))
              for i in range(len(sizes) - 1)]
    norm = meta["norm"]
    return NumpyMLP(layers, norm["in_mean"], norm["in_std"], norm["out_mean"], norm["out_std"]), meta


def load_module(path: str | Path, kind: str, robot, build, required=("kind", "robot"), check=None,
                layout: dict | None = None):
    """(torch module with the checkpoint's weights, metadata) for networks other than the MLP:
    `build(meta)` makes the untrained module the metadata describes (ConfigError if it cannot),
    `check(meta_path, meta)` checks the kind's own fields first; the same checks of files, kind,
    robot, layout and state_dict (keys, shapes, finite values) as load_checkpoint."""
    pt, meta_path, meta = read_metadata(path, kind, robot, required)
    if check is not None:
        check(meta_path, meta)
    check_layout(meta_path, meta, layout or {})
    try:
        net = build(meta)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - metadata the builder cannot use is the same user error
        raise ConfigError(f"{meta_path}: cannot build the network it describes ({type(e).__name__}: {e})") from None
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    net.load_state_dict(_state_dict(pt, expected, f"{kind} network"))
    return net, meta
