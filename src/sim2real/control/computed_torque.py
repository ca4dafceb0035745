"""The classical baseline: computed-torque control with the nominal model.

    tau = M(q) (qdd_d + Kp (q_d - q) + Kd (qd_d - qd)) + h(q, qd) + f_c tanh(qd_d / v_eps)

M and h (Coriolis, gravity, joint damping) come from the nominal MuJoCo model; the last term
compensates the nominal Coulomb friction in the direction of the desired motion. It is the
yardstick for every learned or adaptive controller, so it gets the full nominal model.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel


class ComputedTorque:
    V_EPS = 0.02  # rad/s, smooths the friction sign around zero velocity

    def __init__(self, model: NominalModel):
        self.m = model
        r = model.robot
        self.kp, self.kd, self.limit = r.kp, r.kd, r.effort_limit

    def torque(self, q, qd, q_d, qd_d, qdd_d=None) -> np.ndarray:
        M, h = self.m.dynamics(q, qd)
        e = q_d - q
        ed = qd_d - qd
        a = (0.0 if qdd_d is None else qdd_d) + self.kp * e + self.kd * ed
        tau = M @ a + h + self.m.frictionloss * np.tanh(qd_d / self.V_EPS)
        return np.clip(tau, -self.limit, self.limit)
