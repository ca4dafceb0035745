"""Controller modes: one interface for the node and the benchmark.

Every mode maps (stamp, measured q, qd, desired state) -> joint torques within the effort limits
and keeps a one-line `status` for /diagnostics ("ok" or why it fell back). Modes:

  computed_torque   the classical baseline on the nominal model
  local_linear      online local linear model + least-squares torque (Mordatch et al. 2015)
  nn_prior_lqr      Bayesian local model with a neural-network prior + LQR (Fu et al. 2015)
  inverse_dynamics  learned inverse dynamics trained on the robot's recordings (Christiano et al. 2016)

`oracle` (computed torque on the true profile) exists only for the benchmark.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired
from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec

MODES = ("computed_torque", "local_linear", "nn_prior_lqr", "inverse_dynamics")


class Mode:
    name = "base"
    status = "ok"

    def command(self, t: float, q: np.ndarray, qd: np.ndarray, d: Desired, effort=None) -> np.ndarray:
        """effort: the measured joint torques of this state (N m) when the driver reports them."""
        raise NotImplementedError


class ComputedTorqueMode(Mode):
    name = "computed_torque"

    def __init__(self, model: NominalModel):
        self.law = ComputedTorque(model)

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        return self.law.torque(q, qd, d.q, d.qd, d.qdd)


class OracleMode(Mode):
    """Computed torque on the *true* dynamics (masses, payload as it changes, friction, damping,
    armature) with the motor strength divided out. Latency, lag and noise it cannot undo."""
    name = "oracle"

    def __init__(self, robot: RobotSpec, reality, payload_at: Callable[[float], float]):
        self.model = NominalModel(robot, reality)
        self.law = ComputedTorque(self.model)
        self.strength = reality.resolve(robot).motor_strength
        self.payload_at, self._payload = payload_at, None

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        m = self.payload_at(t)
        if m != self._payload:
            self.model.set_payload_mass(m)
            self._payload = m
        tau = self.law.torque(q, qd, d.q, d.qd, d.qdd) / self.strength
        return np.clip(tau, -self.law.limit, self.law.limit)


def make_mode(name: str, robot: RobotSpec, checkpoint: str | Path | None = None, **options) -> Mode:
    """A controller mode by name; learned modes need their checkpoint (clear error otherwise)."""
    if name == "computed_torque":
        return ComputedTorqueMode(NominalModel(robot))
    if name == "local_linear":
        from sim2real.control.local_linear import LocalLinearMode
        return LocalLinearMode(NominalModel(robot), **options)
    if name == "nn_prior_lqr":
        from sim2real.control.nn_prior_lqr import NNPriorLQRMode
        return NNPriorLQRMode(NominalModel(robot), checkpoint, **options)
    if name == "inverse_dynamics":
        from sim2real.control.inverse_dynamics import InverseDynamicsMode
        return InverseDynamicsMode(NominalModel(robot), checkpoint, **options)
    raise ConfigError(f"controller mode {name!r} unknown (known: {', '.join(MODES)})")
