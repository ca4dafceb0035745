"""The classical baseline: computed-torque control with the nominal model.

    tau = M(q) (qdd_d + Kp (q_d - q) + Kd (qd_d - qd) + z) + h(q, qd) + f_c tanh(qd_d / v_eps)

(the reference model's acceleration, control/reference.py, speed-limited, plus the hold term z:
a lag compensator that holds a load the nominal model lacks, see HoldTerm)

M and h (Coriolis, gravity, joint damping) come from the nominal MuJoCo model; the last term
compensates the nominal Coulomb friction in the direction of the desired motion. It is the
yardstick for every learned or adaptive controller, so it gets the full nominal model.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired, ReferenceModel, _clip


class HoldTerm:
    """The hold term z of computed torque (an acceleration, rad/s^2, per joint; any batch shape).

    A load the nominal model lacks (a payload) is left to the feedback, and the reference's speed
    cap limits that at rest to M Kd v_ref (~0.7 N m of the Jaco wrist's 6.8): a heavy payload
    sagged however far the desired state led. While a joint is at rest and asked to stay there, z
    follows GAIN x Kp (q_d - q) with time constant TAU_S (a lag compensator: more gain at low
    frequency only, so the loop near its crossover, and its margin under delay, stay as they
    were); it fades with the same time constant once the joint or its desired state moves, and is
    bounded by MAX x Kd v_ref. (Raising the speed cap at rest instead added velocity gain where it
    saturated, and destabilized the arm under 30 ms of delay.) The graph's controller and the
    policy's training environment (policy/env.py) both add it."""
    GAIN = 1.0
    TAU_S = 0.3
    MAX = 1.0
    SLOW = 0.2     # x v_ref: "at rest", for the joint and for its desired velocity

    def __init__(self, robot, ref: ReferenceModel):
        self.k = self.GAIN * np.asarray(robot.kp, float)
        self.z_max = self.MAX * np.asarray(robot.kd, float) * ref.v_ref
        self._z_lo = -self.z_max
        self.slow = self.SLOW * ref.v_ref
        self.a = min(1.0, robot.dt / self.TAU_S)
        self.z: np.ndarray | None = None

    def reset(self, rows=None) -> None:
        if self.z is not None:
            if rows is None:
                self.z[...] = 0.0
            else:
                self.z[rows] = 0.0

    def update(self, q, qd, q_d, qd_d) -> np.ndarray:
        """z after this control step's state (arrays of one shape, (n,) or (N, n))."""
        if self.z is None or self.z.shape != np.shape(q):
            self.z = np.zeros(np.shape(q))
        rest = (np.abs(qd) < self.slow) & (np.abs(qd_d) < self.slow)
        z = self.z
        z += self.a * (np.where(rest, self.k * (q_d - q), 0.0) - z)
        _clip(z, self._z_lo, self.z_max, out=z)
        if not np.isfinite(z).all():      # a NaN state must not stay in the term
            z[~np.isfinite(z)] = 0.0
        return z


class ComputedTorque:
    V_EPS = 0.02  # rad/s, smooths the friction sign around zero velocity

    def __init__(self, model: NominalModel):
        self.m = model
        r = model.robot
        self.limit = r.effort_limit
        self._lo = -self.limit
        self.ref = ReferenceModel.for_robot(r)
        self.hold = HoldTerm(r, self.ref)

    def reset(self) -> None:
        self.hold.reset()

    def torque(self, q, qd, q_d, qd_d, qdd_d=None) -> np.ndarray:
        M, h = self.m.dynamics(q, qd)
        a = self.ref.accel(q, qd, Desired(q_d, qd_d, qdd_d))
        a = a + self.hold.update(q, qd, q_d, qd_d)
        # M a + h + f_c tanh(qd_d / v_eps), summed in that order; temporaries reused in place
        tau = M @ a
        tau += h
        f = np.divide(qd_d, self.V_EPS)
        np.tanh(f, out=f)
        f *= self.m.frictionloss
        tau += f
        return _clip(tau, self._lo, self.limit, out=tau)
