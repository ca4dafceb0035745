"""RobotSpec: everything the stack knows about one robot, from its config file and its URDF.

Limits (effort, velocity, position) are read from the URDF so there is one source for them;
the config adds what the URDF cannot say (gains, armature, camera, scene, task).
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.config_io import floats, get, load_yaml
from sim2real.errors import ConfigError


@dataclass(frozen=True)
class CameraSpec:
    name: str
    width: int
    height: int
    fovy_deg: float
    rate_hz: float
    pos: tuple[float, float, float]     # m, world frame
    lookat: tuple[float, float, float]  # m, world frame
    shadows: bool


@dataclass(frozen=True)
class SafetySpec:
    position_margin: float  # rad
    velocity_scale: float   # fraction of the URDF velocity limit
    hold_kp: float          # N m/rad
    hold_kd: float          # N m s/rad
    watchdog_s: float       # s


@dataclass(frozen=True)
class RobotSpec:
    name: str
    config_path: Path
    urdf_path: Path
    base_link: str
    end_effector: str
    control_rate_hz: float
    policy_rate_hz: float
    joint_names: tuple[str, ...]        # effort-controlled joints, command order
    effort_limit: np.ndarray            # (n,) N m
    velocity_limit: np.ndarray          # (n,) rad/s
    position_lower: np.ndarray          # (n,) rad, -inf for continuous joints
    position_upper: np.ndarray          # (n,) rad, +inf for continuous joints
    kp: np.ndarray                      # (n,) 1/s^2
    kd: np.ndarray                      # (n,) 1/s
    armature: np.ndarray                # (n,) kg m^2
    home: np.ndarray                    # (n,) rad
    gripper_joints: tuple[str, ...]
    gripper_hold: np.ndarray            # (m,) rad
    gripper_kp: np.ndarray              # (m,) N m/rad
    safety: SafetySpec
    camera: CameraSpec | None
    scene: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.joint_names)

    @property
    def dt(self) -> float:
        return 1.0 / self.control_rate_hz


def _urdf_joints(urdf: Path) -> dict[str, dict]:
    try:
        root = ET.parse(urdf).getroot()
    except (ET.ParseError, OSError) as e:
        raise ConfigError(f"{urdf}: cannot read URDF ({e})") from None
    out = {}
    for j in root.iter("joint"):
        lim = j.find("limit")
        info = {"type": j.get("type")}
        if lim is not None:
            for k in ("lower", "upper", "effort", "velocity"):
                if lim.get(k) is not None:
                    info[k] = float(lim.get(k))
        out[j.get("name")] = info
    return out


def load_spec(config: str | Path) -> RobotSpec:
    path = paths.resolve(config)
    raw = load_yaml(path)
    w = str(path)
    urdf = paths.resolve(get(raw, "urdf", str, w))
    if not urdf.is_file():
        raise ConfigError(f"{w}.urdf: no such file {urdf}")
    ujoints = _urdf_joints(urdf)

    arm = get(raw, "arm_joints", dict, w)
    names = tuple(arm)
    rows = []
    for jn in names:
        if jn not in ujoints:
            raise ConfigError(f"{w}.arm_joints.{jn}: no such joint in {urdf.name}")
        uj, cj = ujoints[jn], arm[jn] or {}
        where = f"{w}.arm_joints.{jn}"
        if "effort" not in uj or "velocity" not in uj:
            raise ConfigError(f"{urdf.name}: joint {jn} needs <limit effort= velocity=>")
        cont = uj["type"] == "continuous"
        rows.append((uj["effort"], uj["velocity"],
                     -math.inf if cont else uj.get("lower", -math.inf),
                     math.inf if cont else uj.get("upper", math.inf),
                     get(cj, "kp", float, where), get(cj, "kd", float, where),
                     get(cj, "armature", float, where, 0.0)))
    cols = [np.array(c, dtype=float) for c in zip(*rows)]
    if np.any(cols[0] <= 0) or np.any(cols[1] <= 0):
        raise ConfigError(f"{urdf.name}: effort and velocity limits must be > 0")

    grip = get(raw, "gripper_joints", dict, w, {})
    for gn in grip:
        if gn not in ujoints:
            raise ConfigError(f"{w}.gripper_joints.{gn}: no such joint in {urdf.name}")
    s = get(raw, "safety", dict, w)
    safety = SafetySpec(*(get(s, k, float, f"{w}.safety") for k in
                          ("position_margin", "velocity_scale", "hold_kp", "hold_kd", "watchdog_s")))
    cam = None
    c = get(raw, "sensors", dict, w, {}).get("camera")
    if c is not None:
        cw = f"{w}.sensors.camera"
        cam = CameraSpec(get(c, "name", str, cw), get(c, "width", int, cw), get(c, "height", int, cw),
                         get(c, "fovy_deg", float, cw), get(c, "rate_hz", float, cw),
                         tuple(floats(get(c, "pos", list, cw), 3, cw + ".pos")),
                         tuple(floats(get(c, "lookat", list, cw), 3, cw + ".lookat")),
                         get(c, "shadows", bool, cw, False))
    home = np.array(floats(get(raw, "home", list, w), len(names), w + ".home"))
    return RobotSpec(
        name=get(raw, "name", str, w), config_path=path, urdf_path=urdf,
        base_link=get(raw, "base_link", str, w), end_effector=get(raw, "end_effector", str, w),
        control_rate_hz=get(raw, "control_rate_hz", float, w), policy_rate_hz=get(raw, "policy_rate_hz", float, w),
        joint_names=names, effort_limit=cols[0], velocity_limit=cols[1],
        position_lower=cols[2], position_upper=cols[3], kp=cols[4], kd=cols[5], armature=cols[6],
        home=home, gripper_joints=tuple(grip),
        gripper_hold=np.array([get(v, "hold", float, f"{w}.gripper_joints") for v in grip.values()]),
        gripper_kp=np.array([get(v, "kp", float, f"{w}.gripper_joints") for v in grip.values()]),
        safety=safety, camera=cam, scene=get(raw, "scene", dict, w, {}), task=get(raw, "task", dict, w, {}),
    )
