"""Where the package's data (config/, urdf/, launch/, models/) lives.

From a source checkout (`pip install -e .`) it is the repository root; after a colcon build it is
share/sim2real, found through ament_index.
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    env = os.environ.get("SIM2REAL_DATA")
    if env:
        return Path(env)
    if (_REPO / "config" / "robots").is_dir():
        return _REPO
    try:  # installed by colcon on a full ROS 2 install
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory("sim2real"))
    except Exception:  # noqa: BLE001 - any failure means "not installed that way"
        return _REPO


def resolve(path: str | os.PathLike) -> Path:
    """An absolute path, or one relative to the data root."""
    p = Path(path)
    return p if p.is_absolute() else data_root() / p


def checkpoint(robot: str, kind: str) -> Path:
    """The default checkpoint of `kind` for `robot` (learn/checkpoint.py's format): where
    `sim2real train` writes it and where the modes that need it read it, whatever the working
    directory: <data root>/models/<robot>/<kind>.pt (+ .json)."""
    return data_root() / "models" / robot / f"{kind}.pt"


def user_path(path: str | os.PathLike) -> Path:
    """A path a user typed: absolute as given; relative to the working directory when it exists
    there (as a shell user means it), else to the data root when it exists there
    (`config/reality/x.yaml` works from anywhere), else as typed. A checkpoint may be named
    without its .pt."""
    p = Path(path)
    if p.is_absolute():
        return p
    for base in (Path.cwd(), data_root()):
        if (base / p).exists() or (base / p.with_name(p.name + ".pt")).exists():
            return base / p
    return p
