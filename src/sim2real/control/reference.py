"""The desired next state every controller mode aims at.

The policy (or the mux) sends a desired joint state at 50 Hz; the 500 Hz controller needs the
desired state one step ahead, x_bar(t+1) (Mordatch et al. 2015), or over a short horizon for
LQR (Fu et al. 2015). Both come from one reference model: the tracking error e = q_d - q decays
as a critically damped second-order system,

    a_des = qdd_d + Kp (q_d - q) + Kd (qd_d - qd)

so every mode is asked for the same closed-loop bandwidth as the computed-torque baseline, and
the benchmark compares how well each one *achieves* it on a robot it does not know.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Desired:
    """A desired joint state at the time of the current measurement (rad, rad/s, rad/s^2)."""
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray | None = None

    def acc(self) -> np.ndarray:
        return np.zeros_like(self.q) if self.qdd is None else self.qdd


class ReferenceModel:
    def __init__(self, kp: np.ndarray, kd: np.ndarray, dt: float):
        self.kp, self.kd, self.dt = np.asarray(kp, float), np.asarray(kd, float), dt

    def accel(self, q, qd, d: Desired) -> np.ndarray:
        return d.acc() + self.kp * (d.q - q) + self.kd * (d.qd - qd)

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
