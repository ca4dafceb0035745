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
lists them in.

A `visuals:` mapping holds the ranges of visual randomization (Tobin et al. 2017) that the
perception renderer draws from per image (perception/render.py samples them; dynamics ignore
them). Every key is optional, absent means "not randomized":

  texture_kinds      list of flat | gradient | checker | noise: what a surface's texture is
  colors             {element: {low: [r, g, b], high: [r, g, b]}}: the RGB box each scene element's
                     texture colours come from; elements: table, floor, robot, target
  lights, distractors, jpeg_quality   [low, high] integers: how many lights (1..8), distractor
                     objects (0..32), JPEG quality (1..100; 100 = not compressed)
  distractor_shapes  list of box | sphere | cylinder | capsule | ellipsoid
  light_intensity, light_color (per channel), ambient, camera_offset (m, per axis),
  camera_rpy_deg (per axis), camera_fovy_deg (added), distractor_size (m), arm_pose_rad (added
  to the home pose, per joint), blur_sigma_px, color_shift (per channel, [0, 1] units),
  pixel_noise (std, 0-255 units)     [low, high] numbers
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    visuals: dict = field(default_factory=dict)   # the validated `visuals:` section (VISUAL_* below)

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


# visuals: key -> (lowest allowed, highest allowed) of its [low, high] range
VISUAL_RANGES: dict[str, tuple[float, float]] = {
    "light_intensity": (0.0, 10.0), "light_color": (0.0, 1.0), "ambient": (0.0, 1.0),
    "camera_offset": (-1.0, 1.0), "camera_rpy_deg": (-45.0, 45.0), "camera_fovy_deg": (-40.0, 60.0),
    "distractor_size": (0.001, 0.5), "arm_pose_rad": (-3.2, 3.2), "blur_sigma_px": (0.0, 10.0),
    "color_shift": (-1.0, 1.0), "pixel_noise": (0.0, 128.0),
}
VISUAL_INT_RANGES: dict[str, tuple[int, int]] = {"lights": (1, 8), "distractors": (0, 32), "jpeg_quality": (1, 100)}
VISUAL_CHOICES: dict[str, tuple[str, ...]] = {
    "texture_kinds": ("flat", "gradient", "checker", "noise"),
    "distractor_shapes": ("box", "sphere", "cylinder", "capsule", "ellipsoid"),
}
VISUAL_ELEMENTS = ("table", "floor", "robot", "target")
VISUAL_PROBABILITIES = ("payload_probability", "near_target_color_probability")    # one number in [0, 1]


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def parse_visuals(data, where: str) -> dict:
    """The `visuals:` section, validated: ConfigError naming the key (visuals.KEY) otherwise."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of visual ranges")
    known = (*VISUAL_RANGES, *VISUAL_INT_RANGES, *VISUAL_CHOICES, *VISUAL_PROBABILITIES, "colors")
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(known)})")
    out: dict = {}
    for key, (amin, amax) in {**VISUAL_RANGES, **VISUAL_INT_RANGES}.items():
        if key not in data:
            continue
        r = data[key]
        ints = key in VISUAL_INT_RANGES
        ok = (isinstance(r, (list, tuple)) and len(r) == 2 and all(_is_num(x) for x in r)
              and (not ints or all(isinstance(x, int) for x in r)) and amin <= r[0] <= r[1] <= amax)
        if not ok:
            raise ConfigError(f"{where}.{key}: must be [low, high] {'integers' if ints else 'numbers'} with "
                              f"{amin} <= low <= high <= {amax}, got {r!r}")
        out[key] = (int(r[0]), int(r[1])) if ints else (float(r[0]), float(r[1]))
    for key in VISUAL_PROBABILITIES:
        if key in data:
            if not (_is_num(data[key]) and 0 <= data[key] <= 1):
                raise ConfigError(f"{where}.{key}: must be a probability in [0, 1], got {data[key]!r}")
            out[key] = float(data[key])
    for key, allowed in VISUAL_CHOICES.items():
        if key not in data:
            continue
        v = data[key]
        if not isinstance(v, list) or not v or any(x not in allowed for x in v):
            raise ConfigError(f"{where}.{key}: must be a non-empty list of {', '.join(allowed)}, got {v!r}")
        out[key] = tuple(v)
    if "colors" in data:
        c = data["colors"]
        if not isinstance(c, dict):
            raise ConfigError(f"{where}.colors: expected a mapping {{element: {{low, high}}}}, got {c!r}")
        out["colors"] = {}
        for el, box in c.items():
            w = f"{where}.colors.{el}"
            if el not in VISUAL_ELEMENTS:
                raise ConfigError(f"{w}: unknown element (known: {', '.join(VISUAL_ELEMENTS)})")
            if not isinstance(box, dict) or set(box) != {"low", "high"}:
                raise ConfigError(f"{w}: expected {{low: [r, g, b], high: [r, g, b]}}, got {box!r}")
            lo, hi = box["low"], box["high"]
            if not all(isinstance(v, list) and len(v) == 3 and all(_is_num(x) and 0 <= x <= 1 for x in v)
                       for v in (lo, hi)) or any(a > b for a, b in zip(lo, hi)):
                raise ConfigError(f"{w}: low and high must be 3 numbers in [0, 1] with low <= high, got {box!r}")
            out["colors"][el] = (tuple(float(x) for x in lo), tuple(float(x) for x in hi))
    return out


def parse_randomization(data, where: str) -> Randomization:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of key: [low, high]")
    unknown = sorted(set(data) - set(KEYS) - {"visuals"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)}, visuals)")
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
    visuals = parse_visuals(data["visuals"], f"{where}: visuals") if "visuals" in data else {}
    return Randomization(ranges, where, visuals)


def load_randomization(robot, path=None) -> Randomization:
    """The robot's randomization/<robot>.yaml beside its robots/<robot>.yaml (config/randomization/
    in the repository, <dir>/randomization/ in a SIM2REAL_ROBOT_PATH directory), or the file at
    `path`; ConfigError naming the file and key."""
    path = path or robot.config_path.parent.parent / "randomization" / f"{robot.name}.yaml"
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no randomization ranges for robot '{robot.name}'")
    return parse_randomization(load_yaml(path), str(path))
