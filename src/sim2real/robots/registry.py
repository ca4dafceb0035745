"""The registered robots: an explicit dict, name -> config file (relative to the data root).

Adding a robot is data: a URDF, a config file under config/robots/ and a line here.
"""
from __future__ import annotations

from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec, load_spec

ROBOTS: dict[str, str] = {
    "jaco": "config/robots/jaco.yaml",
}


def load_robot(name: str) -> RobotSpec:
    if name not in ROBOTS:
        raise ConfigError(f"unknown robot '{name}'; registered robots: {', '.join(sorted(ROBOTS))}")
    return load_spec(ROBOTS[name])
