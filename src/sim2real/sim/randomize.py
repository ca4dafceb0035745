"""The one sampler of randomized dynamics: config/randomization/<robot>.yaml -> reality profiles.

The file lists ranges `key: [low, high]`; each episode draws every listed factor uniformly from
its range and returns it as a reality profile (schema v1, sim/reality.py), so a randomized
simulator is built exactly as a twin is. Keys (all optional; none names a robot or a joint):

  mass_scale, inertia_scale       one draw for the robot: every link's mass / inertia
  ground_friction                 one draw: the floor's contact friction scale (legged robots)
  friction_scale, damping_scale,  one draw per joint (the robot's commanded joints)
  armature_scale, motor_strength,
  backlash, actuator_lag
  position_noise, velocity_noise, one draw per joint: sensor noise std (rad, rad/s, N m)
  effort_noise
  payload_mass                    kg on the body the robot config names (its payload body)
  payload_offset                  m along that body's z axis
  latency_command, latency_state  one draw each: transport latency, s (dynamics.latency)

Draws happen in the order of KEYS, so a seed gives the same robots whatever order the file
lists them in. Visual randomization (lighting, textures, camera) is not sampled yet: no robot's
file has visual ranges; the perception work adds them here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.config_io import load_yaml
from sim2real.errors import ConfigError
from sim2real.sim.reality import SCHEMA, RealityProfile, parse_profile

# key -> (profile section, one draw per joint?)
KEYS: dict[str, tuple[str, bool]] = {
    "mass_scale": ("dynamics", False),
    "friction_scale": ("dynamics", True),
    "damping_scale": ("dynamics", True),
    "armature_scale": ("dynamics", True),
    "payload_mass": ("dynamics", False),
    "payload_offset": ("dynamics", False),
    "inertia_scale": ("dynamics", False),
    "ground_friction": ("dynamics", False),
    "motor_strength": ("dynamics", True),
    "backlash": ("dynamics", True),
    "actuator_lag": ("dynamics", True),
    "position_noise": ("sensors", True),
    "velocity_noise": ("sensors", True),
    "effort_noise": ("sensors", True),
    "latency_command": ("dynamics", False),
    "latency_state": ("dynamics", False),
}


@dataclass(frozen=True)
class Randomization:
    ranges: dict[str, tuple[float, float]]   # key -> (low, high), in KEYS order
    source: str                              # the file, for messages

    def names(self, robot) -> list[str]:
        """The flat parameter vector's entries: 'key' or 'key[joint]', in draw order."""
        out = []
        for key in self.ranges:
            out += [f"{key}[{j}]" for j in robot.joint_names] if KEYS[key][1] else [key]
        return out

    def bounds(self, robot) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the flat parameter vector."""
        lo, hi = [], []
        for key, (a, b) in self.ranges.items():
            k = robot.n if KEYS[key][1] else 1
            lo += [a] * k
            hi += [b] * k
        return np.array(lo), np.array(hi)

    def draw(self, robot, rng: np.random.Generator) -> np.ndarray:
        """One uniform draw of the flat parameter vector."""
        parts = [rng.uniform(lo, hi, robot.n) if KEYS[key][1] else np.array([rng.uniform(lo, hi)])
                 for key, (lo, hi) in self.ranges.items()]
        return np.concatenate(parts) if parts else np.zeros(0)

    def profile(self, robot, theta, name: str = "randomized") -> RealityProfile:
        """The reality profile of a flat parameter vector (one from draw(), or any other source
        of the same layout: the adapted source distribution of policy/adapt.py)."""
        sections: dict[str, dict] = {}
        payload = {}
        i = 0
        for key in self.ranges:
            section, per_joint = KEYS[key]
            if per_joint:
                v = [float(x) for x in theta[i:i + robot.n]]
                i += robot.n
            else:
                v = float(theta[i])
                i += 1
            if key == "payload_mass":
                payload["mass"] = v
            elif key == "payload_offset":
                payload["offset"] = [0.0, 0.0, v]
            elif key.startswith("latency_"):
                sections.setdefault("dynamics", {}).setdefault("latency", {})[key[len("latency_"):]] = v
            else:
                sections.setdefault(section, {})[key] = v
        if payload:
            sections.setdefault("dynamics", {})["payload"] = {"mass": 0.0, "offset": [0.0, 0.0, 0.0], **payload}
        return parse_profile({"schema": SCHEMA, "name": name, "robot": robot.name, **sections},
                             where=f"{self.source} (sampled)")

    def sample(self, robot, rng: np.random.Generator, name: str = "randomized") -> RealityProfile:
        """One randomized robot as a reality profile."""
        return self.profile(robot, self.draw(robot, rng), name)


def parse_randomization(data, where: str) -> Randomization:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of key: [low, high]")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    ranges = {}
    for key in KEYS:
        if key not in data:
            continue
        r = data[key]
        if (not isinstance(r, (list, tuple)) or len(r) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in r)
                or r[0] > r[1]):
            raise ConfigError(f"{where}: {key} must be [low, high] with low <= high, got {r!r}")
        ranges[key] = (float(r[0]), float(r[1]))
    return Randomization(ranges, where)


def load_randomization(robot) -> Randomization:
    """The robot's config/randomization/<robot>.yaml; ConfigError naming the file and key."""
    path = paths.data_root() / "config" / "randomization" / f"{robot.name}.yaml"
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no randomization ranges for robot '{robot.name}'")
    return parse_randomization(load_yaml(path), str(path))
