"""The safety filter core: the last word before the driver. Never bypassed.

Every command passes `filter()`: non-finite or wrong-sized commands become a hold; torques are
clipped to the effort limits; near a position limit the outward torque is replaced by a
spring-damper pushing back; above the velocity limit the accelerating torque is replaced by
braking. `hold()` is the safe state: a PD on the position latched when the hold began (no
feed-forward), used on NaN, watchdog timeout and the teleop lock.
"""
from __future__ import annotations

import math

import numpy as np

from sim2real.robots.spec import RobotSpec


class SafetyFilter:
    def __init__(self, robot: RobotSpec):
        s = robot.safety
        self.n = robot.n
        self.limit = robot.effort_limit
        self.vmax = robot.velocity_limit * s.velocity_scale
        self.lo = robot.position_lower + s.position_margin   # -inf stays -inf
        self.hi = robot.position_upper - s.position_margin
        self.margin = s.position_margin
        # hold gains are given for the strongest joint and scale with each joint's effort limit,
        # so weak wrist joints get gains their small inertia can take at the control rate
        scale = self.limit / self.limit.max()
        self.kp_hold, self.kd_hold = s.hold_kp * scale, s.hold_kd * scale
        self.k_wall = self.limit / max(s.position_margin, 1e-3)   # full torque at the hard limit
        self._hold_q: np.ndarray | None = None

    def filter(self, tau, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(safe torque, reasons it was changed). q, qd in the robot's joint order."""
        tau = np.asarray(tau, dtype=float)
        if tau.shape != (self.n,):
            return self.hold(q, qd), [f"command has {tau.size} values, expected {self.n}"]
        if not math.isfinite(float(tau.sum())):
            return self.hold(q, qd), ["command contains NaN/inf"]
        self._hold_q = None
        reasons = []
        out = np.clip(tau, -self.limit, self.limit)
        if np.any(out != tau):
            reasons.append("effort limit")
        over_hi, over_lo = q > self.hi, q < self.lo
        if np.any(over_hi | over_lo):
            wall = np.where(over_hi, -self.k_wall * (q - self.hi), self.k_wall * (self.lo - q)) - self.kd_hold * qd
            out = np.where(over_hi, np.minimum(out, 0.0) + np.minimum(wall, 0.0), out)
            out = np.where(over_lo, np.maximum(out, 0.0) + np.maximum(wall, 0.0), out)
            reasons.append("position limit")
        fast = np.abs(qd) > self.vmax
        if np.any(fast):
            brake = -self.kd_hold * 4.0 * (qd - np.clip(qd, -self.vmax, self.vmax))
            accelerating = fast & (out * qd > 0)
            out = np.where(accelerating, brake, np.where(fast, out + brake, out))
            reasons.append("velocity limit")
        return np.clip(out, -self.limit, self.limit), reasons

    def hold(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Damped hold of the position latched at the first call since the last good command."""
        q = np.asarray(q, float)
        qd = np.asarray(qd, float)
        if not math.isfinite(float(q.sum() + qd.sum())):
            return np.zeros(self.n)   # state itself is bad: no torque at all is the only safe output
        if self._hold_q is None:
            self._hold_q = q.copy()
        tau = self.kp_hold * (self._hold_q - q) - self.kd_hold * qd
        return np.clip(tau, -self.limit, self.limit)

    def release(self) -> None:
        self._hold_q = None
