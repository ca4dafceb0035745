"""The registered robots, found from data when asked (no import-time discovery):

- every `config/robots/<name>.yaml` under the data root (URDF paths relative to the data root);
- every `<dir>/robots/<name>.yaml` for each directory in the environment variable
  SIM2REAL_ROBOT_PATH (os.pathsep-separated), with URDF paths relative to `<dir>` or absolute.
  Such a directory may also hold `tasks/<task>.yaml`, read before config/tasks/.

Adding a robot is data: a URDF and a config file; no Python file changes. A name defined twice
is an error naming both files.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec, load_spec

ROBOT_PATH_ENV = "SIM2REAL_ROBOT_PATH"


def robot_dirs() -> list[tuple[Path, Path]]:
    """(folder of <name>.yaml configs, root that relative URDF paths are resolved against)."""
    out = [(paths.data_root() / "config" / "robots", paths.data_root())]
    for d in os.environ.get(ROBOT_PATH_ENV, "").split(os.pathsep):
        if d.strip():
            out.append((Path(d) / "robots", Path(d)))
    return out


def robot_configs() -> dict[str, tuple[Path, Path]]:
    """name -> (config file, URDF root), read now from the robot directories."""
    found: dict[str, tuple[Path, Path]] = {}
    for folder, root in robot_dirs():
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.yaml")):
            if f.stem in found:
                raise ConfigError(f"robot '{f.stem}' is defined twice: {found[f.stem][0]} and {f}")
            found[f.stem] = (f, root)
    return found


class _Registry(Mapping):
    """ROBOTS: a read-only mapping name -> config path that re-reads the directories on each use."""

    def __getitem__(self, name: str) -> Path:
        return robot_configs()[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(robot_configs())

    def __len__(self) -> int:
        return len(robot_configs())


ROBOTS: Mapping[str, Path] = _Registry()


def load_robot(name: str) -> RobotSpec:
    cfgs = robot_configs()
    if name not in cfgs:
        raise ConfigError(f"unknown robot '{name}'; registered robots: {', '.join(sorted(cfgs))}")
    path, root = cfgs[name]
    spec = load_spec(path, root)
    if spec.name != name:
        raise ConfigError(f"{path}.name: '{spec.name}' does not match the file name '{name}'")
    return spec
