"""The motor controller's last line, one for every driver: the twin (sim/twin.py), the relay in
front of Gazebo's ros2_control (sim/gazebo_relay.py) and the adapters in front of vendor drivers
(hardware/base.py). Below the graph's safety filter, whatever reaches it:

    accept(cmd)          a wire command: refused if the wrong size or non-finite (the reason is
                         returned, nothing changes), else clipped to the wire limits (effort limits,
                         or the joint range for position / PD-target robots) and returned
    reason(...)          whether the motors hold now, and why: no command delivered yet (brakes),
                         none fresh for `timeout_s` (a dead or late graph), or the command acted on
                         is saturated (a joint at its effort limit) and its period is over: a
                         saturated torque is never reapplied past the period it was meant for
    hold(reason, ...)    what the motors get while holding: effort robots a damped PD on the
                         position latched when the hold began (SafetyFilter.hold), plus the
                         nominal gravity torque where the firmware adds it; position and PD-target
                         robots the last target delivered (it carries the load a standing robot needs)
    release()            a fresh command acts again: the hold's latch lets go
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from sim2real.safety.filter import SafetyFilter
from sim2real.safety.filter import clip as _clip

HOLD_BRAKES = "brakes (no command yet)"
HOLD_DEADLINE = "no fresh command (deadline)"
HOLD_SATURATED = "saturated command expired"


class MotorLine:
    def __init__(self, robot, timeout_s: float, period_s: float, lo: np.ndarray, hi: np.ndarray,
                 gravity: Callable[[np.ndarray], np.ndarray] | None = None):
        """lo, hi: the wire limits (the order commands arrive in). gravity: q -> (n,) N m added to
        effort robots' holds; None: the firmware adds none (or the vendor's does it)."""
        self.robot = robot
        self.n = robot.n
        self.timeout = float(timeout_s)
        self.period = float(period_s)
        self.targets = robot.actuation != "effort"
        self.lo, self.hi = lo, hi
        self.gravity = gravity
        self._hold = SafetyFilter(robot)
        self._limit = robot.effort_limit * (1 - 1e-9)
        self.holding: str | None = None
        self.holds = 0          # holds begun
        self.commands = 0       # accepted
        self.refused = 0        # non-finite or wrong size
        self.clipped = 0        # past the wire limits, clipped

    def accept(self, cmd) -> tuple[np.ndarray | None, str | None]:
        """(the command clipped to the wire limits, None) or (None, why it is refused)."""
        c = np.asarray(cmd, dtype=float)
        if c.shape != (self.n,):
            self.refused += 1
            return None, f"command has {c.size} values, expected {self.n}"
        if not np.isfinite(c).all():
            self.refused += 1
            return None, "command contains NaN/inf"
        out = _clip(c, self.lo, self.hi)          # np.clip's ufunc, without its wrappers
        if out.tobytes() != c.tobytes():          # (finite values: as out != c, ~10x cheaper)
            self.clipped += 1
        self.commands += 1
        return out, None

    def reason(self, delivered: bool, fresh: bool, age: float, applied) -> str | None:
        """Why the motors hold now (None: they act on `applied`). delivered: a command has reached
        the motors; fresh: one arrived for this period; age: s since the newest one arrived."""
        if not delivered:
            return HOLD_BRAKES
        if fresh:
            return None
        if age > self.timeout + 1e-9:
            return HOLD_DEADLINE
        if not self.targets and age >= self.period - 1e-9 and np.any(np.abs(applied) >= self._limit):
            return HOLD_SATURATED
        return None

    def hold(self, reason: str, q, qd, applied) -> np.ndarray:
        """The motors' command while holding for `reason` (robot order; applied: the last command
        delivered, None before the first)."""
        if self.holding is None:
            self.holds += 1
        self.holding = reason
        if self.targets and applied is not None:
            return np.array(applied, dtype=float)
        cmd = self._hold.hold(np.asarray(q, float), np.asarray(qd, float))
        if self.gravity is not None and not self.targets:
            cmd = np.clip(cmd + self.gravity(q), -self.robot.effort_limit, self.robot.effort_limit)
        return cmd

    def release(self) -> None:
        if self.holding is not None:
            self._hold.release()
        self.holding = None
