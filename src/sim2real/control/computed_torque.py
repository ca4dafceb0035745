"""The classical baseline: computed-torque control with the nominal model.

    tau = M(q) (qdd_d + Kp (q_d - q) + Kd (qd_d - qd)) + h(q, qd) + f_c tanh(qd_d / v_eps)

(the bracket is the reference model's acceleration, control/reference.py, speed-limited)

M and h (Coriolis, gravity, joint damping) come from the nominal MuJoCo model; the last term
compensates the nominal Coulomb friction in the direction of the desired motion. It is the
yardstick for every learned or adaptive controller, so it gets the full nominal model.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired, ReferenceModel, _clip


class ComputedTorque:
    V_EPS = 0.02  # rad/s, smooths the friction sign around zero velocity

    def __init__(self, model: NominalModel):
        self.m = model
        r = model.robot
        self.limit = r.effort_limit
        self._lo = -self.limit
        self.ref = ReferenceModel.for_robot(r)

    def torque(self, q, qd, q_d, qd_d, qdd_d=None) -> np.ndarray:
        M, h = self.m.dynamics(q, qd)
        a = self.ref.accel(q, qd, Desired(q_d, qd_d, qdd_d))
        # M a + h + f_c tanh(qd_d / v_eps), summed in that order; temporaries reused in place
        tau = M @ a
        tau += h
        f = np.divide(qd_d, self.V_EPS)
        np.tanh(f, out=f)
        f *= self.m.frictionloss
        tau += f
        return _clip(tau, self._lo, self.limit, out=tau)
