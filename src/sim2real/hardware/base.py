"""What every hardware adapter shares: its config (config/hardware/<robot>.yaml), the joint
mapping between a vendor driver and the contract, and the command gate that keeps the twin
driver's rules on a real robot. No rclpy: the cores work on plain field mappings (any object with
the vendor message's attribute names: the real ROS message, or hardware/msgs.py's mirror).

Config schema (sim2real/hardware/v1), every key checked when loaded, errors name the key:
  robot        the registered robot it is for
  vendor       which adapter core (hardware.VENDORS)
  node         the graph's node kind that runs it (graph.NODE_KINDS), named "driver" in the graph
  rate_hz      the vendor's command rate: the adapter sends at least this often once commanding
  command_timeout_s  no fresh contract command for this long -> hold (the twin's deadline)
  topics, services   vendor topic / service names ({role: name})
  joints       {contract joint: {vendor: name or slot, sign: +-1 (default 1), offset: rad (default 0)}},
               one entry per commanded joint of the robot: q = sign (q_vendor - offset),
               qd = sign qd_vendor, effort = sign effort_vendor, command_vendor = sign command
               (+ offset for position targets)
  grippers     {contract gripper joint: vendor name} (reported positions only)
  ignore       vendor joint names that may appear and are dropped (anything else unknown is refused)
  params       vendor-specific settings (each core documents its own)
  vendor_launch  optional {package, file, arguments: {name: value}, remappings: {from: to}}: the
               vendor's launch file that launch/hardware.launch.py includes (none where the robot
               itself is the driver)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.config_io import get, load_yaml
from sim2real.errors import ConfigError
from sim2real.safety.motor import HOLD_DEADLINE, HOLD_SATURATED, MotorLine  # noqa: F401 - the gate's reasons

SCHEMA = "sim2real/hardware/v1"


class Refused(ValueError):
    """A vendor message or a contract command the adapter does not pass on; the text says why."""


@dataclass(frozen=True)
class HardwareConfig:
    path: Path
    robot: str
    vendor: str
    node: str
    rate_hz: float
    command_timeout_s: float
    topics: dict
    services: dict
    vendor_names: tuple        # (n,) vendor name (or motor slot) of each contract joint, robot order
    sign: np.ndarray           # (n,) +-1
    offset: np.ndarray         # (n,) rad
    grippers: dict             # contract gripper joint -> vendor name
    ignore: frozenset
    params: dict = field(default_factory=dict)
    vendor_launch: dict | None = None

    def param(self, key, kind, default=...):
        return get(self.params, key, kind, f"{self.path}.params", default)

    def topic(self, role: str) -> str:
        return get(self.topics, role, str, f"{self.path}.topics")


def hardware_config_path(robot_name: str) -> Path:
    return paths.resolve(f"config/hardware/{robot_name}.yaml")


def load_hardware(robot, path: str | Path | None = None) -> HardwareConfig:
    """The hardware config of a RobotSpec, checked against it (every commanded joint mapped once,
    grippers known, signs +-1, finite offsets, positive rate and timeout)."""
    p = Path(path) if path else hardware_config_path(robot.name)
    if not p.is_file():
        raise ConfigError(f"robot '{robot.name}' has no hardware config ({p}): the hardware backend "
                          "needs one (config/hardware/<robot>.yaml)")
    raw = load_yaml(p)
    w = str(p)
    if raw.get("schema") != SCHEMA:
        raise ConfigError(f"{w}.schema: expected '{SCHEMA}', got {raw.get('schema')!r}")
    if get(raw, "robot", str, w) != robot.name:
        raise ConfigError(f"{w}.robot: '{raw['robot']}' is not '{robot.name}'")
    joints = get(raw, "joints", dict, w)
    missing = [j for j in robot.joint_names if j not in joints]
    extra = [j for j in joints if j not in robot.joint_names]
    if missing or extra:
        raise ConfigError(f"{w}.joints: must map every commanded joint of '{robot.name}' once"
                          + (f"; missing {', '.join(missing)}" if missing else "")
                          + (f"; unknown {', '.join(extra)}" if extra else ""))
    names, sign, offset = [], [], []
    for jn in robot.joint_names:
        e = joints[jn]
        jw = f"{w}.joints.{jn}"
        if not isinstance(e, dict) or "vendor" not in e:
            raise ConfigError(f"{jw}: expected {{vendor: name, sign: +-1, offset: rad}}")
        s = get(e, "sign", (int, float), jw, 1)
        if s not in (1, -1):
            raise ConfigError(f"{jw}.sign: a sign is 1 or -1, got {s!r}")
        o = float(get(e, "offset", (int, float), jw, 0.0))
        if not math.isfinite(o):
            raise ConfigError(f"{jw}.offset: must be finite")
        names.append(e["vendor"])
        sign.append(float(s))
        offset.append(o)
    if len(set(names)) != len(names):
        raise ConfigError(f"{w}.joints: a vendor joint is mapped twice")
    grippers = get(raw, "grippers", dict, w, {})
    for g in grippers:
        if g not in robot.gripper_joints:
            raise ConfigError(f"{w}.grippers.{g}: '{robot.name}' has no gripper joint '{g}'")
    rate = get(raw, "rate_hz", float, w)
    timeout = get(raw, "command_timeout_s", float, w)
    if rate <= 0 or timeout <= 0:
        raise ConfigError(f"{w}: rate_hz and command_timeout_s must be > 0")
    if timeout < 1.0 / rate:
        raise ConfigError(f"{w}.command_timeout_s: {timeout} is shorter than one vendor period ({1.0 / rate} s)")
    return HardwareConfig(path=p, robot=robot.name, vendor=get(raw, "vendor", str, w), node=get(raw, "node", str, w),
                          rate_hz=rate, command_timeout_s=timeout, topics=get(raw, "topics", dict, w),
                          services=get(raw, "services", dict, w, {}), vendor_names=tuple(names),
                          sign=np.array(sign), offset=np.array(offset), grippers=dict(grippers),
                          ignore=frozenset(get(raw, "ignore", list, w, [])), params=get(raw, "params", dict, w, {}),
                          vendor_launch=_vendor_launch(raw, w))


def _vendor_launch(raw: dict, w: str) -> dict | None:
    vl = get(raw, "vendor_launch", dict, w, None)
    if vl is None:
        return None
    vw = f"{w}.vendor_launch"
    return {"package": get(vl, "package", str, vw), "file": get(vl, "file", str, vw),
            "arguments": {str(k): str(v) for k, v in get(vl, "arguments", dict, vw, {}).items()},
            "remappings": {str(k): str(v) for k, v in get(vl, "remappings", dict, vw, {}).items()}}


@dataclass
class ContractState:
    """One /joint_states sample as the contract carries it (robot joint order)."""
    stamp: float                       # s, when the vendor measured it (or received it, where it has no stamp)
    q: np.ndarray                      # (n,) rad
    qd: np.ndarray                     # (n,) rad/s
    effort: np.ndarray | None          # (n,) N m; None where the robot measures none
    gripper_q: np.ndarray = field(default_factory=lambda: np.zeros(0))   # (m,) rad, RobotSpec.gripper_joints order


def finite(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.isfinite(a).all():
        raise Refused(f"{what} contains NaN/inf")
    return a


class NamedJoints:
    """Vendor JointState-style names -> indices of the contract joints, refusing unknown names,
    missing joints and duplicates. The index is cached per name list (drivers send the same)."""

    def __init__(self, hw: HardwareConfig, robot):
        self.vendor = list(hw.vendor_names)
        self.grippers = [hw.grippers.get(g) for g in robot.gripper_joints]
        self.known = set(self.vendor) | {g for g in self.grippers if g} | set(hw.ignore)
        self._key: tuple | None = None
        self._idx = self._gidx = None

    def read(self, msg, with_effort: bool = False):
        """A vendor JointState-shaped message -> (arm indices, gripper indices, position, velocity,
        effort or None), all checked: known names, finite values, one value per name (velocity and
        effort may be empty: zeros / None)."""
        idx, gidx = self.indices(msg.name)
        n = len(msg.name)
        pos = finite(msg.position, "position")
        if pos.size != n:
            raise Refused(f"{pos.size} positions for {n} names")
        vel = finite(msg.velocity, "velocity") if len(msg.velocity) else np.zeros(n)
        eff = finite(msg.effort, "effort") if with_effort and len(msg.effort) else None
        if vel.size != n or (eff is not None and eff.size != n):
            raise Refused("velocity/effort sizes differ from the names")
        return idx, gidx, pos, vel, eff

    def indices(self, names) -> tuple[np.ndarray, list]:
        key = tuple(names)
        if key != self._key:
            unknown = [n for n in key if n not in self.known]
            if unknown:
                raise Refused(f"unknown joint name(s) {', '.join(unknown)}")
            if len(set(key)) != len(key):
                raise Refused("a joint name appears twice")
            missing = [n for n in self.vendor if n not in key]
            if missing:
                raise Refused(f"joint(s) {', '.join(missing)} missing")
            self._idx = np.array([key.index(n) for n in self.vendor])
            self._gidx = [key.index(g) if g in key else None for g in self.grippers]
            self._key = key
        return self._idx, self._gidx


# ---- the command gate: the twin driver's rules at the vendor boundary ---------------------------

class CommandGate:
    """What the twin's motor controller does with commands (sim/twin.py), kept by an adapter in
    front of a vendor driver, so no single message can make the robot move unsafely:

    accept(cmd, t)     a contract command (robot order; N m for effort robots, rad targets for
                       position / PD-target robots) at time t: refused if the wrong size or
                       non-finite (the reason is returned, nothing changes), else clipped to the
                       effort limits or the joint range (the driver's last line) and kept.
    due(t, q, qd)      what the motors get now: (command, None) while the newest command is fresh,
                       (hold, reason) once no fresh command came for `timeout` s, or once a
                       saturated torque has had its period; (None, None) before the first command
                       (the vendor keeps its own mode: brakes, position hold, sport mode).
    The rules are the twin's (safety/motor.py MotorLine): effort robots a damped PD on the position latched when the hold began
    (safety.filter.SafetyFilter.hold, no feed-forward; the vendor adds gravity where its firmware
    does), position and PD-target robots the last target accepted.
    """

    def __init__(self, robot, timeout_s: float, period_s: float):
        self.robot = robot
        self.targets = robot.actuation != "effort"
        lo = robot.position_lower if self.targets else -robot.effort_limit
        hi = robot.position_upper if self.targets else robot.effort_limit
        self.line = MotorLine(robot, timeout_s, period_s, lo, hi)   # no gravity: the vendor's firmware adds it
        self.timeout, self.period = self.line.timeout, self.line.period
        self.last: np.ndarray | None = None
        self.last_t = -math.inf

    refused = property(lambda self: self.line.refused)
    clipped = property(lambda self: self.line.clipped)
    holds = property(lambda self: self.line.holds)
    holding = property(lambda self: self.line.holding)

    def accept(self, cmd, t: float) -> str | None:
        out, problem = self.line.accept(cmd)
        if problem is None:
            self.last, self.last_t = out, float(t)
        return problem

    def due(self, t: float, q, qd) -> tuple[np.ndarray | None, str | None]:
        if self.last is None:
            return None, None
        reason = self.line.reason(True, False, t - self.last_t, self.last)
        if reason is None:
            self.line.release()
            return self.last, None
        return self.line.hold(reason, q, qd, self.last), reason


class VendorAdapter:
    """Base of the vendor cores: the mapping both ways, for states and for commands.

    state(msg) -> ContractState            vendor state message -> contract (Refused when bad)
    vendor_state(state, msg) -> msg        the inverse, filling a vendor message (tests, fakes)
    command(cmd, state, hold) -> msg       a gated contract command -> the vendor's command message
    contract_command(msg, state) -> cmd    the inverse: what contract command a vendor message carries
    """

    def __init__(self, robot, hw: HardwareConfig):
        self.robot, self.hw = robot, hw
        self.n = robot.n
        self.sign, self.offset = hw.sign, hw.offset
        self.gate = CommandGate(robot, hw.command_timeout_s, 1.0 / hw.rate_hz)
        self._last_stamp = -math.inf

    def in_order(self, stamp: float) -> float:
        """A state's stamp, refused when it does not come after the previous state's (a stale or
        replayed sample must not reach the controller as news)."""
        if stamp <= self._last_stamp:
            raise Refused(f"stamp {stamp:.6f} s is not after the previous {self._last_stamp:.6f} s")
        self._last_stamp = stamp
        return stamp

    # contract <-> vendor joint conventions
    def q_to_contract(self, qv):
        return self.sign * (np.asarray(qv, float) - self.offset)

    def q_to_vendor(self, q):
        return self.sign * np.asarray(q, float) + self.offset

    def rate_to_contract(self, v):     # velocities, efforts, torque commands: the sign only
        return self.sign * np.asarray(v, float)

    rate_to_vendor = rate_to_contract   # sign * sign = 1
