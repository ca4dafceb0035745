"""Driver corrections (schema sim2real/driver-corrections/v1, what `sim2real doctor` suggests)
applied between a vendor driver and the graph: the driver's order, signs, offsets and command
scale on one side, the robot config's conventions on the other."""
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

    @classmethod
    def from_dict(cls, d: dict, robot, where: str = "corrections") -> "DriverAdapter":
        if d.get("schema") != SCHEMA:
            raise ConfigError(f"{where}.schema: expected '{SCHEMA}'")
        if d.get("robot", robot.name) != robot.name:
            raise ConfigError(f"{where}.robot: corrections are for '{d['robot']}', not '{robot.name}'")
        names = robot.joint_names
        order = tuple(d.get("joint_order", names))
        if sorted(order) != sorted(names):
            raise ConfigError(f"{where}.joint_order: must be a permutation of {', '.join(names)}")
        return cls(names, order, per_joint(d.get("sign"), names, 1.0, f"{where}.sign"),
                   per_joint(d.get("offset"), names, 0.0, f"{where}.offset"),
                   per_joint(d.get("command_scale"), names, 1.0, f"{where}.command_scale"))

    @classmethod
    def load(cls, path, robot) -> "DriverAdapter":
        return cls.from_dict(load_yaml(path), robot, str(path))

    @property
    def identity(self) -> bool:
        """Nothing to translate: latency, lag and noise figures are for randomization, not here."""
        return (self.wire_order == self.names and np.all(self.sign == 1) and not np.any(self.offset)
                and np.all(self.command_scale == 1))

    def state_to_robot(self, wire_names, q, qd, effort):
        """A driver JointState's arrays -> (q, qd, effort) of the robot's joints, config order."""
        wire_names = list(wire_names)
        idx = [wire_names.index(n) for n in self.names]
        q, qd, effort = (np.asarray(a, float) for a in (q, qd, effort))
        out_q = (q[idx] - self.offset) * self.sign
        out_qd = qd[idx] * self.sign if qd.size else np.zeros(len(idx))
        out_e = effort[idx] * self.sign if effort.size else np.zeros(len(idx))
        return out_q, out_qd, out_e

    def command_to_driver(self, tau) -> np.ndarray:
        """Torques in config order -> the driver's order, sense and scale."""
        t = np.asarray(tau, float) * self.sign * self.command_scale
        return np.array([t[self.names.index(n)] for n in self.wire_order])


def loop_delay_s(path) -> tuple[float, float]:
    """What a controller should predict over, from a corrections file: (the loop's round trip,
    `latency_s`: command -> torque sensed -> state back; the median actuator lag), s; 0 for what
    the file does not say."""
    d = load_yaml(path) or {}
    lags = list((d.get("actuator_lag_s") or {}).values())
    return float(d.get("latency_s") or 0.0), (float(np.median(lags)) if lags else 0.0)
