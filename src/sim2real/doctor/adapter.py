"""Driver corrections (schema sim2real/driver-corrections/v1, what `sim2real doctor` suggests)
applied between a vendor driver and the graph: the driver's names, order, signs, offsets and
command scale on one side, the robot config's conventions on the other.

The file (YAML), every key but `schema` optional:
  schema: sim2real/driver-corrections/v1
  robot: jaco                      # the robot config the corrections are for
  names: {j2s7s300_joint_1: joint_1, ...}   # driver name -> robot name, where the driver's
                                   # names differ (one-to-one); names not listed are the robot's
  joint_order: [joint_1, ...]      # robot names in the order the driver reports and takes commands
  sign: {joint_6: -1}              # per joint, by robot name (here and below): reversed sense
  offset: {joint_2: 0.05}          # rad the driver adds to reported positions
  command_scale: {joint_4: 2.0}    # commands multiplied by this before they are sent
  latency_s: 0.028                 # the loop's round trip, and per joint the actuator lag and
  actuator_lag_s: {joint_1: 0.01}  # position noise: for the controller and randomization, not
  position_noise: {joint_1: 0.001} # applied here
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.config_io import load_yaml
from sim2real.errors import ConfigError
from sim2real.sim.reality import per_joint

SCHEMA = "sim2real/driver-corrections/v1"


@dataclass(frozen=True)
class DriverAdapter:
    names: tuple[str, ...]      # the robot's joints, config order
    wire_order: tuple[str, ...]  # the order the driver reports and accepts
    sign: np.ndarray            # (n,) config order
    offset: np.ndarray          # (n,) rad, added by the driver to reported positions
    command_scale: np.ndarray   # (n,) multiply commands by this before sending
    renames: tuple[tuple[str, str], ...] = ()   # (driver name, robot name) where they differ

    @classmethod
    def from_dict(cls, d: dict, robot, where: str = "corrections") -> "DriverAdapter":
        if d.get("schema") != SCHEMA:
            raise ConfigError(f"{where}.schema: expected '{SCHEMA}'")
        if d.get("robot", robot.name) != robot.name:
            raise ConfigError(f"{where}.robot: corrections are for '{d['robot']}', not '{robot.name}'")
        names = robot.joint_names
        renames = d.get("names") or {}
        if not isinstance(renames, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in renames.items()):
            raise ConfigError(f"{where}.names: expected {{driver name: robot name}}")
        bad = [v for v in renames.values() if v not in names]
        if bad:
            raise ConfigError(f"{where}.names: unknown robot joint(s) {', '.join(bad)} "
                              f"(known: {', '.join(names)})")
        if len(set(renames.values())) != len(renames):
            raise ConfigError(f"{where}.names: two driver names map to one robot joint")
        order = tuple(d.get("joint_order", names))
        if sorted(order) != sorted(names):
            raise ConfigError(f"{where}.joint_order: must be a permutation of {', '.join(names)}")
        return cls(names, order, per_joint(d.get("sign"), names, 1.0, f"{where}.sign"),
                   per_joint(d.get("offset"), names, 0.0, f"{where}.offset"),
                   per_joint(d.get("command_scale"), names, 1.0, f"{where}.command_scale"),
                   tuple(renames.items()))

    @classmethod
    def load(cls, path, robot) -> "DriverAdapter":
        return cls.from_dict(load_yaml(path), robot, str(path))

    @property
    def identity(self) -> bool:
        """Nothing to translate: latency, lag and noise figures are for randomization, not here."""
        return (not self.renames and self.wire_order == self.names and np.all(self.sign == 1)
                and not np.any(self.offset) and np.all(self.command_scale == 1))

    def state_to_robot(self, wire_names, q, qd, effort):
        """A driver JointState's arrays -> (q, qd, effort) of the robot's joints, config order.
        ValueError when a robot joint is not among the (renamed) driver names."""
        to_robot = dict(self.renames)
        wire_names = [to_robot.get(n, n) for n in wire_names]
        idx = [wire_names.index(n) for n in self.names]
        q, qd, effort = (np.asarray(a, float) for a in (q, qd, effort))
        out_q = (q[idx] - self.offset) * self.sign
        out_qd = qd[idx] * self.sign if qd.size else np.zeros(len(idx))
        out_e = effort[idx] * self.sign if effort.size else np.zeros(len(idx))
        return out_q, out_qd, out_e

    def command_to_driver(self, tau) -> np.ndarray:
        """Torques in config order -> the driver's order, sense and scale (a command carries no
        names: the driver's order is all there is to translate)."""
        t = np.asarray(tau, float) * self.sign * self.command_scale
        return np.array([t[self.names.index(n)] for n in self.wire_order])


def loop_delay_s(path) -> tuple[float, float]:
    """What a controller should predict over, from a corrections file: (the loop's round trip,
    `latency_s`: command -> torque sensed -> state back; the median actuator lag), s; 0 for what
    the file does not say."""
    d = load_yaml(path) or {}
    lags = list((d.get("actuator_lag_s") or {}).values())
    return float(d.get("latency_s") or 0.0), (float(np.median(lags)) if lags else 0.0)
