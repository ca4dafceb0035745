"""RobotSpec: everything the stack knows about one robot, from its config file and its URDF.

A robot is data (DESIGN.md): `config/robots/<name>.yaml` + the URDF it names. Limits (effort,
velocity, position) and mimic joints are read from the URDF so there is one source for them; the
config adds what the URDF cannot say: the base (fixed | floating), the actuation (effort |
position | pd_targets) with its gains, armature, sensors (joint torque, IMU, camera, foot
contacts), the scene, and the robot's tasks (their settings live in `config/tasks/<task>.yaml`,
which the robot config may override per task).

Config keys (units REP-103: m, rad, s, kg, N m):
  name, urdf, base_link                  the URDF's root link is base_link
  base: fixed | floating                 floating: MuJoCo adds a free joint on base_link
  actuation: effort | position | pd_targets   (default effort)
  end_effector, payload_body             optional frames (payload_body defaults to end_effector,
                                         else base_link): the body a reality profile's payload sits on
  control_rate_hz, policy_rate_hz, physics_dt (optional; control period / physics_dt substeps)
  joints: {joint: {kp, kd, armature, stiffness, damping}}, in command order
      kp [1/s^2], kd [1/s]: the computed-torque reference gains of effort robots (controller modes)
      stiffness [N m/rad], damping [N m s/rad]: the joint PD of position / pd_targets robots
      armature [kg m^2]: reflected rotor inertia (in the nominal model; reality profiles scale it)
  gripper_joints: {joint: {hold, kp}}    joints the driver holds itself with position servos
  home: [rad, ...]                       joints order; the stand pose for legged robots
  safety: {position_margin, velocity_scale, hold_kp, hold_kd, watchdog_s}
  sensors: {joint_torque: bool, imu: {body, pos}, foot_contacts: [body, ...], camera: {...}}
  scene: {floor: {height, rgb, friction, size}, robot: {rgb}, light: {...}, table/target: ...}
  tasks: [name, ...] or {name: {overrides}}; the first is the robot's default task
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

BASES = ("fixed", "floating")
ACTUATIONS = ("effort", "position", "pd_targets")
# ros2_control forward-command controllers, one per command interface
COMMAND_TOPICS = {"effort": "/effort_controller/commands",
                  "position": "/position_controller/commands",
                  "pd_targets": "/position_controller/commands"}
# controller -> safety filter, per actuation (the filter alone publishes COMMAND_TOPICS)
CONTROLLER_TOPICS = {"effort": "/controller/effort", "position": "/controller/position",
                     "pd_targets": "/controller/position"}


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
    landmarks: tuple[str, ...] = ()     # bodies whose origins perception locates in the image to
                                        # calibrate the camera against forward kinematics


@dataclass(frozen=True)
class ImuSpec:
    body: str                           # the body the IMU is fixed to (a URDF link)
    pos: tuple[float, float, float]     # m, in that body's frame
    site: str = "imu"                   # the MuJoCo site the IMU sensors read


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
    base_link: str                      # the URDF root link
    end_effector: str | None            # frame reach targets refer to; None for robots without one
    control_rate_hz: float              # /joint_states and commands, Hz
    policy_rate_hz: float               # /policy/desired and the other desired-state topics, Hz
    joint_names: tuple[str, ...]        # commanded joints, command order
    effort_limit: np.ndarray            # (n,) N m
    velocity_limit: np.ndarray          # (n,) rad/s
    position_lower: np.ndarray          # (n,) rad, -inf for continuous joints
    position_upper: np.ndarray          # (n,) rad, +inf for continuous joints
    kp: np.ndarray                      # (n,) 1/s^2, computed-torque reference gains (0 if unset)
    kd: np.ndarray                      # (n,) 1/s
    armature: np.ndarray                # (n,) kg m^2
    home: np.ndarray                    # (n,) rad
    gripper_joints: tuple[str, ...]
    gripper_hold: np.ndarray            # (m,) rad
    gripper_kp: np.ndarray              # (m,) N m/rad
    safety: SafetySpec
    camera: CameraSpec | None
    scene: dict = field(default_factory=dict)     # robot scene merged over the default task's scene
    task: dict = field(default_factory=dict)      # the default task's settings (config/tasks + overrides)
    base: str = "fixed"                 # fixed | floating
    actuation: str = "effort"           # effort | position | pd_targets
    pd_kp: np.ndarray | None = None     # (n,) N m/rad joint PD stiffness (zeros for effort robots)
    pd_kd: np.ndarray | None = None     # (n,) N m s/rad joint PD damping (zeros for effort robots)
    mimic: dict = field(default_factory=dict)     # joint -> (leader joint, multiplier, offset) from the URDF
    payload_body: str | None = None     # body a reality profile's payload is attached to
    imu: ImuSpec | None = None
    foot_contacts: tuple[str, ...] = ()  # bodies whose collision geoms carry touch sensors
    joint_torque_sensing: bool = True   # /joint_states effort is measured (False: not published)
    tasks: tuple[str, ...] = ()         # the robot's tasks, default first
    task_configs: dict = field(default_factory=dict)   # task name -> merged settings
    physics_dt: float = 0.0             # s, MuJoCo timestep (a divisor of dt)

    def __post_init__(self):
        n = len(self.joint_names)
        for f in ("pd_kp", "pd_kd"):
            if getattr(self, f) is None:
                object.__setattr__(self, f, np.zeros(n))
        if not self.physics_dt:
            object.__setattr__(self, "physics_dt", 1.0 / self.control_rate_hz)

    @property
    def n(self) -> int:
        return len(self.joint_names)

    @property
    def dt(self) -> float:
        """Control period, s."""
        return 1.0 / self.control_rate_hz

    @property
    def substeps(self) -> int:
        """Physics steps per control period."""
        return max(1, round(self.dt / self.physics_dt))

    @property
    def floating_base(self) -> bool:
        return self.base == "floating"

    @property
    def command_topic(self) -> str:
        """The ros2_control forward-command topic the driver listens on for this actuation."""
        return COMMAND_TOPICS[self.actuation]

    @property
    def controller_topic(self) -> str:
        """What the controller publishes for the safety filter: torques or joint targets."""
        return CONTROLLER_TOPICS[self.actuation]

    def task_config(self, name: str) -> dict:
        if name not in self.task_configs:
            raise ConfigError(f"{self.config_path}.tasks: robot '{self.name}' has no task '{name}' "
                              f"(its tasks: {', '.join(self.tasks) or 'none'})")
        return self.task_configs[name]


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
        mim = j.find("mimic")
        if mim is not None:
            info["mimic"] = (mim.get("joint"), float(mim.get("multiplier", 1.0)), float(mim.get("offset", 0.0)))
        out[j.get("name")] = info
    return out


def _urdf_links(urdf: Path) -> set[str]:
    return {ln.get("name") for ln in ET.parse(urdf).getroot().iter("link")}


def _choice(raw, key, choices, where, default):
    v = get(raw, key, str, where, default)
    if v not in choices:
        raise ConfigError(f"{where}.{key}: expected one of {', '.join(choices)}, got {v!r}")
    return v


def _tasks(raw: dict, w: str, root: Path | None) -> dict[str, dict]:
    """The robot's tasks: <root>/tasks/<name>.yaml if the robot's directory has one, else
    config/tasks/<name>.yaml; each overridden by the robot config's entry."""
    t = raw.get("tasks", {})
    if isinstance(t, list):
        t = {name: {} for name in t}
    if not isinstance(t, dict):
        raise ConfigError(f"{w}.tasks: expected a list of task names or a mapping name -> overrides")
    out = {}
    for name, over in t.items():
        if over is not None and not isinstance(over, dict):
            raise ConfigError(f"{w}.tasks.{name}: expected a mapping of overrides, got {over!r}")
        candidates = ([Path(root) / "tasks" / f"{name}.yaml"] if root is not None else []) + \
            [paths.resolve(f"config/tasks/{name}.yaml")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"{w}.tasks.{name}: no task config config/tasks/{name}.yaml")
        out[name] = _merge(load_yaml(found), over or {})
        out[name]["name"] = name
    return out


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_spec(config: str | Path, root: str | Path | None = None) -> RobotSpec:
    """Read a robot config. A relative `urdf:` path is resolved against `root` (the robot
    directory the config came from), else against the data root."""
    path = paths.resolve(config)
    raw = load_yaml(path)
    w = str(path)
    u = get(raw, "urdf", str, w)
    urdf = Path(u) if Path(u).is_absolute() else (Path(root) / u if root is not None else paths.resolve(u))
    if not urdf.is_file():
        raise ConfigError(f"{w}.urdf: no such file {urdf}")
    ujoints = _urdf_joints(urdf)
    links = _urdf_links(urdf)

    base = _choice(raw, "base", BASES, w, "fixed")
    actuation = _choice(raw, "actuation", ACTUATIONS, w, "effort")
    key = "joints"
    arm = get(raw, key, dict, w)
    names = tuple(arm)
    rows = []
    for jn in names:
        if jn not in ujoints:
            raise ConfigError(f"{w}.{key}.{jn}: no such joint in {urdf.name}")
        uj, cj = ujoints[jn], arm[jn] or {}
        where = f"{w}.{key}.{jn}"
        if not isinstance(cj, dict):
            raise ConfigError(f"{where}: expected a mapping of joint settings, got {cj!r}")
        if "effort" not in uj or "velocity" not in uj:
            raise ConfigError(f"{urdf.name}: joint {jn} needs <limit effort= velocity=>")
        cont = uj["type"] == "continuous"
        pd = actuation != "effort"
        rows.append((uj["effort"], uj["velocity"],
                     -math.inf if cont else uj.get("lower", -math.inf),
                     math.inf if cont else uj.get("upper", math.inf),
                     get(cj, "kp", float, where, ... if not pd else 0.0),
                     get(cj, "kd", float, where, ... if not pd else 0.0),
                     get(cj, "armature", float, where, 0.0),
                     get(cj, "stiffness", float, where, ... if pd else 0.0),
                     get(cj, "damping", float, where, ... if pd else 0.0)))
    if not rows:
        raise ConfigError(f"{w}.{key}: no joints")
    cols = [np.array(c, dtype=float) for c in zip(*rows)]
    if np.any(cols[0] <= 0) or np.any(cols[1] <= 0):
        raise ConfigError(f"{urdf.name}: effort and velocity limits must be > 0")
    if np.any(cols[7] < 0) or np.any(cols[8] < 0):
        raise ConfigError(f"{w}.{key}: stiffness and damping must be >= 0")
    mimic = {jn: ujoints[jn]["mimic"] for jn in names if "mimic" in ujoints[jn]}
    for jn, (leader, _, _) in mimic.items():
        if leader not in names:
            raise ConfigError(f"{urdf.name}: joint {jn} mimics {leader}, which is not in {w}.{key}")

    grip = get(raw, "gripper_joints", dict, w, {})
    for gn in grip:
        if gn not in ujoints:
            raise ConfigError(f"{w}.gripper_joints.{gn}: no such joint in {urdf.name}")
    s = get(raw, "safety", dict, w)
    safety = SafetySpec(*(get(s, k, float, f"{w}.safety") for k in
                          ("position_margin", "velocity_scale", "hold_kp", "hold_kd", "watchdog_s")))

    sensors = get(raw, "sensors", dict, w, {})
    sw = f"{w}.sensors"
    cam = None
    c = sensors.get("camera")
    if c is not None:
        cw = f"{sw}.camera"
        cam = CameraSpec(get(c, "name", str, cw), get(c, "width", int, cw), get(c, "height", int, cw),
                         get(c, "fovy_deg", float, cw), get(c, "rate_hz", float, cw),
                         tuple(floats(get(c, "pos", list, cw), 3, cw + ".pos")),
                         tuple(floats(get(c, "lookat", list, cw), 3, cw + ".lookat")),
                         get(c, "shadows", bool, cw, False),
                         tuple(str(b) for b in get(c, "landmarks", list, cw, [])))
    imu = None
    i = get(sensors, "imu", dict, sw, None)
    if i is not None:
        iw = f"{sw}.imu"
        imu = ImuSpec(get(i, "body", str, iw), tuple(floats(get(i, "pos", list, iw, [0, 0, 0]), 3, iw + ".pos")))
    feet = tuple(get(sensors, "foot_contacts", list, sw, []))

    base_link = get(raw, "base_link", str, w)
    ee = get(raw, "end_effector", str, w, None)
    payload = get(raw, "payload_body", str, w, ee or base_link)
    for what, body in (("base_link", base_link), ("end_effector", ee), ("payload_body", payload),
                       ("sensors.imu.body", imu.body if imu else None), *(("sensors.foot_contacts", f) for f in feet)):
        if body is not None and body not in links:
            raise ConfigError(f"{w}.{what}: no link '{body}' in {urdf.name}")

    rate = get(raw, "control_rate_hz", float, w)
    physics_dt = get(raw, "physics_dt", float, w, 1.0 / rate)
    sub = (1.0 / rate) / physics_dt
    if physics_dt <= 0 or abs(sub - round(sub)) > 1e-6 or round(sub) < 1:
        raise ConfigError(f"{w}.physics_dt: must divide the control period {1.0 / rate} s, got {physics_dt}")

    task_cfgs = _tasks(raw, w, root)
    default = next(iter(task_cfgs.values()), {})
    scene = _merge(default.get("scene", {}), get(raw, "scene", dict, w, {}))
    home = np.array(floats(get(raw, "home", list, w), len(names), w + ".home"))
    return RobotSpec(
        name=get(raw, "name", str, w), config_path=path, urdf_path=urdf,
        base_link=base_link, end_effector=ee,
        control_rate_hz=rate, policy_rate_hz=get(raw, "policy_rate_hz", float, w),
        joint_names=names, effort_limit=cols[0], velocity_limit=cols[1],
        position_lower=cols[2], position_upper=cols[3], kp=cols[4], kd=cols[5], armature=cols[6],
        home=home, gripper_joints=tuple(grip),
        gripper_hold=np.array([get(v, "hold", float, f"{w}.gripper_joints") for v in grip.values()]),
        gripper_kp=np.array([get(v, "kp", float, f"{w}.gripper_joints") for v in grip.values()]),
        safety=safety, camera=cam, scene=scene, task=dict(default),
        base=base, actuation=actuation, pd_kp=cols[7], pd_kd=cols[8], mimic=mimic,
        payload_body=payload, imu=imu, foot_contacts=feet,
        joint_torque_sensing=get(sensors, "joint_torque", bool, sw, True),
        tasks=tuple(task_cfgs), task_configs=task_cfgs, physics_dt=physics_dt,
    )
