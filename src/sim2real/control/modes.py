"""Controller modes: one interface for the node and the benchmark, one registry of them.

Every mode maps (stamp, measured q, qd, desired state) -> the robot's command within its limits
(joint torques for effort robots; joint position targets for position and PD-target robots,
whose motors close the joint PD) and keeps a one-line `status` for /diagnostics ("ok" or why it
fell back). REGISTRY below is the
one list of modes: the CLI's help and validation, the graph, the controller node and the
benchmark read it. A mode that learns names the checkpoint kind it needs; make_mode finds it at
paths.checkpoint(robot, kind) unless given a path. The benchmark's `oracle` (computed torque
on the true profile) is no controller a robot can run and lives in eval/benchmark.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from sim2real import paths
from sim2real.control.reference import Desired
from sim2real.errors import ConfigError

if TYPE_CHECKING:   # the CLI reads REGISTRY for its help: no MuJoCo import for that
    from sim2real.control.nominal_model import NominalModel
    from sim2real.robots.spec import RobotSpec


class Mode:
    name = "base"
    status = "ok"

    def command(self, t: float, q: np.ndarray, qd: np.ndarray, d: Desired, effort=None) -> np.ndarray:
        """effort: the measured joint torques of this state (N m) when the driver reports them."""
        raise NotImplementedError


class ComputedTorqueMode(Mode):
    name = "computed_torque"

    def __init__(self, model: NominalModel):
        from sim2real.control.computed_torque import ComputedTorque
        self.law = ComputedTorque(model)

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        return self.law.torque(q, qd, d.q, d.qd, d.qdd)


class JointTargetsMode(Mode):
    """Position / PD-target robots: the desired joint positions are the command (the motors' own
    PD tracks them, as a Go1's firmware or a NAO's DCM does)."""
    name = "joint_targets"

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        return d.q


def _joint_targets(model, checkpoint, **options) -> Mode:
    return JointTargetsMode(**options)


def _computed_torque(model, checkpoint, **options) -> Mode:
    return ComputedTorqueMode(model, **options)


def _local_linear(model, checkpoint, **options) -> Mode:
    from sim2real.control.local_linear import LocalLinearMode
    return LocalLinearMode(model, **options)


def _nn_prior_lqr(model, checkpoint, **options) -> Mode:
    from sim2real.control.nn_prior_lqr import NNPriorLQRMode
    return NNPriorLQRMode(model, checkpoint, **options)


def _inverse_dynamics(model, checkpoint, **options) -> Mode:
    from sim2real.control.inverse_dynamics import InverseDynamicsMode
    return InverseDynamicsMode(model, checkpoint, **options)


@dataclass(frozen=True)
class ModeSpec:
    factory: Callable[..., Mode]   # (NominalModel, checkpoint path or None, **options) -> Mode
    needs: str | None              # checkpoint kind it loads (learn/checkpoint.py), None: nothing
    summary: str                   # one line for help texts and the README
    actuation: str = "effort"      # "effort": torques; "targets": joint positions (position / PD robots)
    adaptive: bool = False         # learns online / from data: guarded (control/guard.py), takes latency_s


REGISTRY: dict[str, ModeSpec] = {
    "computed_torque": ModeSpec(_computed_torque, None,
                                "the classical baseline on the nominal model"),
    "local_linear": ModeSpec(_local_linear, None,
                             "online local linear model + least-squares torque (Mordatch et al. 2015)",
                             adaptive=True),
    "nn_prior_lqr": ModeSpec(_nn_prior_lqr, "dynamics_prior",
                             "Bayesian local model with a neural-network prior + LQR (Fu et al. 2015)",
                             adaptive=True),
    "inverse_dynamics": ModeSpec(_inverse_dynamics, "inverse_dynamics",
                                 "learned inverse dynamics trained on the robot's recordings (Christiano et al. 2016)",
                                 adaptive=True),
    "joint_targets": ModeSpec(_joint_targets, None,
                              "position / PD-target robots: the desired joint positions, for the motors' PD",
                              actuation="targets"),
}
MODES = tuple(REGISTRY)            # the names, for those that only need the list
BASELINE = "computed_torque"       # what the adaptive modes are measured against


def mode_help() -> str:
    return "; ".join(f"{name}: {spec.summary}" + (f" [checkpoint: {spec.needs}]" if spec.needs else "")
                     for name, spec in REGISTRY.items())


def default_mode(robot: RobotSpec) -> str:
    """The robot's baseline mode: computed torque for effort robots, joint targets otherwise."""
    return BASELINE if robot.actuation == "effort" else "joint_targets"


def check_mode(name: str, robot: RobotSpec) -> ModeSpec:
    """The mode's spec; ConfigError when it is unknown or does not fit the robot's actuation."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ConfigError(f"controller mode {name!r} unknown (known: {', '.join(MODES)})")
    if (spec.actuation == "effort") != (robot.actuation == "effort"):
        fits = [n for n, s in REGISTRY.items() if (s.actuation == "effort") == (robot.actuation == "effort")]
        raise ConfigError(f"controller mode {name!r} commands {'torques' if spec.actuation == 'effort' else 'joint targets'}; "
                          f"robot '{robot.name}' takes {robot.actuation} commands (modes for it: {', '.join(fits)})")
    return spec


def make_mode(name: str, robot: RobotSpec, checkpoint: str | Path | None = None, *,
              latency_s: float = 0.0, lag_s: float = 0.0, guard: bool | dict = True, **options) -> Mode:
    """A controller mode by name; a learned mode loads `checkpoint`, by default the robot's
    paths.checkpoint(robot, kind) (a clear ConfigError when it is missing or does not fit).

    Adaptive modes (spec.adaptive) take the loop's measured delay, `latency_s` (state transport +
    command transport + actuator lag, s; the controller node's parameter of that name), and
    compensate it; `lag_s`, when given, is the actuators' first-order lag apart from it (latency_s
    then the transport alone): the prediction runs the torques on their way through that lag. They
    run under the guard (control/guard.py) that hands control to the baseline when they diverge
    (guard=False: the bare mode, for tests and studies; a dict: guard settings). Other modes
    ignore latency_s and lag_s."""
    spec = check_mode(name, robot)
    if spec.needs and not checkpoint:
        checkpoint = paths.checkpoint(robot.name, spec.needs)
    latency_s = float(latency_s)
    if not np.isfinite(latency_s) or latency_s < 0.0 or latency_s > 0.5:
        raise ConfigError(f"latency_s {latency_s!r}: expected seconds in [0, 0.5]")
    lag_s = float(lag_s)
    if not np.isfinite(lag_s) or lag_s < 0.0 or lag_s > 0.2:
        raise ConfigError(f"lag_s {lag_s!r}: expected seconds in [0, 0.2]")
    if spec.actuation != "effort":
        return spec.factory(None, checkpoint, **options)
    from sim2real.control.nominal_model import NominalModel
    model = NominalModel(robot)
    if not spec.adaptive:
        return spec.factory(model, checkpoint, **options)
    mode = spec.factory(model, checkpoint, latency_s=latency_s, lag_s=lag_s, **options)
    if guard is False:
        return mode
    from sim2real.control.guard import GuardedMode
    return GuardedMode(mode, ComputedTorqueMode(model), robot, **(guard if isinstance(guard, dict) else {}))
