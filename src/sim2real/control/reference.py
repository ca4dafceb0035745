"""The desired next state every controller mode aims at.

The policy (or the mux) sends a desired joint state at 50 Hz; the 500 Hz controller needs the
desired state one step ahead, x_bar(t+1) (Mordatch et al. 2015), or over a short horizon for
LQR (Fu et al. 2015). Both come from one reference model: the tracking error e = q_d - q decays
as a critically damped second-order system,

    a_des = qdd_d + Kp (q_d - q) + Kd (qd_d - qd)

so every mode is asked for the same closed-loop bandwidth as the computed-torque baseline, and
the benchmark compares how well each one *achieves* it on a robot it does not know.

Written as a_des = qdd_d + Kd (v - qd) with v = qd_d + (Kp / Kd)(q_d - q), the velocity it
steers to; v is saturated at v_ref per joint (REF_SPEED of the velocity limit, below the safety
filter's governor band), so however far or fast the desired state is (a teleop jump, a clamped
1e300) the reference approaches it no faster than v_ref. Without it a 2 rad step asked for
~11 rad/s on joints limited to 0.63, and the filter had to fight the controller. Inside the
limit it is exactly the PD above.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:    # np.clip's ufunc (the same values, without its Python wrappers)
    from numpy._core.umath import clip as _clip
except ImportError:  # numpy < 2
    _clip = np.clip


@dataclass
class Desired:
    """A desired joint state at the time of the current measurement (rad, rad/s, rad/s^2)."""
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray | None = None

    def acc(self) -> np.ndarray:
        return np.zeros_like(self.q) if self.qdd is None else self.qdd


REF_SPEED = 0.85   # fraction of each joint's (safety-scaled) velocity limit; the planner peaks at 0.8


class ReferenceModel:
    def __init__(self, kp: np.ndarray, kd: np.ndarray, dt: float, vmax: np.ndarray | None = None):
        self.kp, self.kd, self.dt = np.asarray(kp, float), np.asarray(kd, float), dt
        self.v_ref = np.inf if vmax is None else np.asarray(vmax, float)
        self._kp_kd, self._v_lo = self.kp / self.kd, -self.v_ref    # per call they cost as much as the law

    @classmethod
    def for_robot(cls, robot) -> "ReferenceModel":
        """The robot's reference gains, speed-limited to REF_SPEED of its velocity limits."""
        vmax = REF_SPEED * robot.velocity_limit * robot.safety.velocity_scale
        return cls(robot.kp, robot.kd, robot.dt, vmax)

    def accel(self, q, qd, d: Desired) -> np.ndarray:
        v = _clip(d.qd + self._kp_kd * (d.q - q), self._v_lo, self.v_ref)
        a = self.kd * (v - qd)
        if d.qdd is None:    # d.acc() is 0: the sum 0 + a, in place (it turns a -0.0 into 0.0, as it did)
            a += 0.0
            return a
        return d.qdd + a

    def next_state(self, q, qd, d: Desired) -> np.ndarray:
        """x_bar(t+1) = [q', qd'] after one step of a_des (semi-implicit Euler, as MuJoCo steps)."""
        qd1 = qd + self.dt * self.accel(q, qd, d)
        return np.concatenate([q + self.dt * qd1, qd1])

    def rollout(self, q, qd, d: Desired, horizon: int) -> np.ndarray:
        """x_bar(t), ..., x_bar(t+H) (H+1, 2n): the reference model run forward, the desired
        trajectory extrapolated with its velocity and acceleration."""
        out = np.empty((horizon + 1, 2 * len(q)))
        q, qd = np.array(q, float), np.array(qd, float)
        out[0] = np.concatenate([q, qd])
        a = d.acc()
        for h in range(1, horizon + 1):
            tau = (h - 1) * self.dt
            dh = Desired(d.q + d.qd * tau + 0.5 * a * tau * tau, d.qd + a * tau, a)
            qd = qd + self.dt * self.accel(q, qd, dh)
            q = q + self.dt * qd
            out[h, :len(q)], out[h, len(q):] = q, qd
        return out
