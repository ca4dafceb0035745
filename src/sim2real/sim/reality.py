"""Reality profiles (schema sim2real/reality/v1, DESIGN.md): one fixed "reality" for the twin.

A profile is validated when loaded: unknown keys, wrong types and out-of-range values are
errors naming the key. `resolve(spec)` then turns per-joint values (scalar, list in the robot's
joint order, or {joint_name: value}) into arrays for one robot.

Only the twin driver reads a profile. Learning code never does: it sees the twin through topics
and recordings, as it would a real robot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sim2real.config_io import load_yaml
from sim2real.errors import ConfigError

SCHEMA = "sim2real/reality/v1"


# ---- leaf validators: (value, where) -> value, or raise ConfigError naming `where` ----------
def _num(lo=-math.inf, hi=math.inf, lo_open=False, hi_open=False):
    def check(v, where):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{where}: expected a number, got {v!r}")
        bad_lo = v <= lo if lo_open else v < lo
        bad_hi = v >= hi if hi_open else v > hi
        if bad_lo or bad_hi:
            raise ConfigError(f"{where}: {v} is out of range {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}")
        return float(v)
    return check


def _int(lo, hi):
    def check(v, where):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{where}: expected an integer in [{lo}, {hi}], got {v!r}")
        return v
    return check


def _str(v, where):
    if not isinstance(v, str):
        raise ConfigError(f"{where}: expected a string, got {v!r}")
    return v


def _vec(n, item):
    def check(v, where):
        if not isinstance(v, list) or len(v) != n:
            raise ConfigError(f"{where}: expected a list of {n} numbers, got {v!r}")
        return [item(x, f"{where}[{i}]") for i, x in enumerate(v)]
    return check


def _per(item):
    """Per-joint (or per-link) value: scalar, list, or {name: value}. Names are checked in resolve()."""
    def check(v, where):
        if isinstance(v, list):
            return [item(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {_str(k, where): item(x, f"{where}.{k}") for k, x in v.items()}
        return item(v, where)
    return check


def _map(fields: dict[str, Callable]):
    def check(v, where):
        if not isinstance(v, dict):
            raise ConfigError(f"{where}: expected a mapping, got {v!r}")
        for k in v:
            if k not in fields:
                raise ConfigError(f"{where}.{k}: unknown key (known: {', '.join(fields)})")
        return {k: fields[k](x, f"{where}.{k}") for k, x in v.items()}
    return check


def _list(item):
    def check(v, where):
        if not isinstance(v, list):
            raise ConfigError(f"{where}: expected a list, got {v!r}")
        return [item(x, f"{where}[{i}]") for i, x in enumerate(v)]
    return check


def _sign(v, where):
    if v not in (1, -1) or isinstance(v, bool):
        raise ConfigError(f"{where}: a sign is 1 or -1, got {v!r}")
    return float(v)


_nonneg = _num(0.0)
_pos = _num(0.0, lo_open=True)
_any = _num()
_unit = _num(0.0, 1.0)
_rate = _num(0.0, 1.0, hi_open=True)
_nonzero_scale = _num(-1e3, 1e3)

SCHEMA_V1 = _map({
    "schema": _str, "name": _str, "robot": _str, "seed": _int(0, 2**31 - 1),
    "dynamics": _map({
        "payload": _map({"mass": _nonneg, "offset": _vec(3, _any)}),
        "payload_schedule": _list(_map({"t": _nonneg, "mass": _nonneg})),
        "mass_scale": _per(_pos), "inertia_scale": _per(_pos),
        "friction_scale": _per(_pos), "damping_scale": _per(_pos), "armature_scale": _per(_pos),
        "ground_friction": _pos,    # scale of the floor's contact friction (legged robots)
        "motor_strength": _per(_pos), "backlash": _per(_nonneg), "actuator_lag": _per(_nonneg),
        "latency": _map({"command": _nonneg, "state": _nonneg}),
        "control_jitter": _nonneg,
        "drop_rate": _map({"command": _rate, "state": _rate}),
    }),
    "sensors": _map({"position_noise": _per(_nonneg), "velocity_noise": _per(_nonneg),
                     "position_bias": _per(_any), "effort_noise": _per(_nonneg)}),
    "visuals": _map({
        "light": _map({"intensity": _nonneg, "color": _vec(3, _unit), "specular": _nonneg,
                       "direction": _vec(3, _any)}),
        "materials": lambda v, w: {k: _vec(3, _unit)(x, f"{w}.{k}") for k, x in _map_of(v, w).items()},
        "camera": _map({"offset": _vec(3, _any), "rpy_deg": _vec(3, _any), "fovy_deg": _any}),
        "blur_sigma_px": _nonneg, "color_shift": _vec(3, _num(-1.0, 1.0)),
        "jpeg_quality": _int(1, 100), "distractors": _int(0, 50),
    }),
    "driver": _map({"joint_order": _list(_str), "sign": _per(_sign), "offset": _per(_any),
                    "command_scale": _per(_nonzero_scale)}),
})


def _map_of(v, where):
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a mapping, got {v!r}")
    return v


# ---- the profile ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RealityProfile:
    """A validated profile; `data` mirrors the YAML (absent keys mean nominal)."""
    data: dict
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.data.get("name", self.path.stem if self.path else "nominal")

    @property
    def seed(self) -> int:
        return self.data.get("seed", 0)

    def section(self, name: str) -> dict:
        return self.data.get(name, {})

    def resolve(self, spec) -> "ResolvedReality":
        return ResolvedReality.build(self, spec)


def parse_profile(data: Any, where: str = "profile") -> RealityProfile:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    if data.get("schema") != SCHEMA:
        raise ConfigError(f"{where}.schema: expected '{SCHEMA}', got {data.get('schema')!r}")
    return RealityProfile(SCHEMA_V1(data, where))


def load_profile(path: str | Path) -> RealityProfile:
    p = Path(path)
    prof = parse_profile(load_yaml(p), str(p))
    return RealityProfile(prof.data, p)


NOMINAL = RealityProfile({"schema": SCHEMA, "name": "nominal"})


def per_joint(value, names: tuple[str, ...], default: float, where: str) -> np.ndarray:
    """Scalar / list in `names` order / {name: value} -> (len(names),) array."""
    out = np.full(len(names), float(default))
    if value is None:
        return out
    if isinstance(value, list):
        if len(value) != len(names):
            raise ConfigError(f"{where}: expected {len(names)} values (one per joint), got {len(value)}")
        return np.array(value, dtype=float)
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in names:
                raise ConfigError(f"{where}.{k}: unknown name (known: {', '.join(names)})")
            out[names.index(k)] = v
        return out
    out[:] = value
    return out


@dataclass(frozen=True)
class ResolvedReality:
    """A profile applied to one robot: per-joint arrays in the robot's joint order."""
    profile: RealityProfile
    friction_scale: np.ndarray
    damping_scale: np.ndarray
    armature_scale: np.ndarray
    motor_strength: np.ndarray
    backlash: np.ndarray
    actuator_lag: np.ndarray        # s, first-order time constant
    latency_command: float          # s
    latency_state: float            # s
    control_jitter: float           # s
    drop_command: float
    drop_state: float
    position_noise: np.ndarray
    velocity_noise: np.ndarray
    position_bias: np.ndarray
    effort_noise: np.ndarray
    joint_order: tuple[int, ...]    # driver reports/accepts joint k of the wire as model joint order[k]
    sign: np.ndarray
    offset: np.ndarray
    command_scale: np.ndarray

    @classmethod
    def build(cls, prof: RealityProfile, spec) -> "ResolvedReality":
        names = spec.joint_names
        d, s, drv = prof.section("dynamics"), prof.section("sensors"), prof.section("driver")
        robot = prof.data.get("robot")
        if robot is not None and robot != spec.name:
            raise ConfigError(f"{prof.path or 'profile'}.robot: profile is for '{robot}', not '{spec.name}'")

        def pj(sec, key, default, section):
            return per_joint(sec.get(key), names, default, f"{section}.{key}")
        order = drv.get("joint_order")
        if order is None:
            perm = tuple(range(len(names)))
        else:
            if sorted(order) != sorted(names):
                raise ConfigError(f"driver.joint_order: must be a permutation of {', '.join(names)}")
            perm = tuple(names.index(n) for n in order)
        lat, drop = d.get("latency", {}), d.get("drop_rate", {})
        return cls(
            profile=prof,
            friction_scale=pj(d, "friction_scale", 1.0, "dynamics"),
            damping_scale=pj(d, "damping_scale", 1.0, "dynamics"),
            armature_scale=pj(d, "armature_scale", 1.0, "dynamics"),
            motor_strength=pj(d, "motor_strength", 1.0, "dynamics"),
            backlash=pj(d, "backlash", 0.0, "dynamics"),
            actuator_lag=pj(d, "actuator_lag", 0.0, "dynamics"),
            latency_command=lat.get("command", 0.0), latency_state=lat.get("state", 0.0),
            control_jitter=d.get("control_jitter", 0.0),
            drop_command=drop.get("command", 0.0), drop_state=drop.get("state", 0.0),
            position_noise=pj(s, "position_noise", 0.0, "sensors"),
            velocity_noise=pj(s, "velocity_noise", 0.0, "sensors"),
            position_bias=pj(s, "position_bias", 0.0, "sensors"),
            effort_noise=pj(s, "effort_noise", 0.0, "sensors"),
            joint_order=perm,
            sign=pj(drv, "sign", 1.0, "driver"),
            offset=pj(drv, "offset", 0.0, "driver"),
            command_scale=pj(drv, "command_scale", 1.0, "driver"),
        )
