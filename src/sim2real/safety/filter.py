"""The safety filter core: the last word before the driver. Never bypassed.

Every command passes `filter()`: non-finite or wrong-sized commands become a hold; torques are
clipped to the effort limits; near a position limit the outward torque is replaced by a
spring-damper pushing back; from BRAKE_FROM of the velocity limit on, the torque along the motion
is capped, down to none at the limit, and above the limit a damper brakes. Both act on the
measured velocity, through the loop's delay, and both are set for it: given the loop's delay
(`loop_delay_s`: state and command transport plus actuator lag, as the doctor measures it), the
damper's gain and the depth of the cap at the limit fall as (DAMPER_DELAY_S / delay)^2 past
DAMPER_DELAY_S. A cap on stale velocities removes the torque that would brake the motion the
joint has already reversed into: under 30 ms of round trip it pumped a 6 Hz wrist oscillation up
to 15-23 rad/s (the reach policies fell from 100% to 0-10% success and every adaptive mode's
hand-over ended in it; with the cap scaled, 100% / 70% and 1.0-1.1x the baseline). The node also measures the delay while it runs
(`LoopDelay`: how old the state behind the command now driving the motors is, peak-held), so a
loop that slows down at run time (a loaded machine, a flood of messages) softens the damper too,
whatever it was told. At full gain, ~36 ms of delay (laggy-noisy) made
it drive the joints it braked to 15-31x their velocity limit where the controller alone stayed
under 1.4x; with no damper at all, a 1e300 desired state on the nominal twin overshot to 1.10x.
`hold()` is
the safe state: a PD on the position latched when the hold began, used on NaN, watchdog timeout
and the teleop lock. Its gains are set for the loop's delay too: a PD acting on states one loop
delay old is stable only up to a bandwidth of about HOLD_BANDWIDTH / delay, so each joint's
stiffness and damping are the configured ones or, where lower, those of a critically damped hold
of that bandwidth on the joint's inertia. With the robot's nominal model (`model`: q -> (gravity
torque, joint inertias), as the filter node passes it) the hold also carries the nominal gravity,
so the softer gains do not let the arm sag; without one it uses the configured gains scaled for
the delay and no feed-forward. The configured gains alone (200 N m/rad, 8 N m s/rad at the
shoulder, wrist damping 53-170 x its inertia per s) drove every joint to 10-90 rad/s within a second on a
34 ms loop (laggy-noisy: the teleop lock made the arm thrash; the doctor's fixtures with 40-60 ms
likewise). `clamp_desired()` keeps desired states (what the controller is asked to reach) inside
the position and velocity limits.

Position and PD-target robots (robot.actuation != "effort") are commanded joint positions that
the motors' own PD tracks: `filter()` then keeps each target inside the position limits (less
the margin), within the reach of the joint PD's torque (|stiffness (target - q) - damping qd|
<= effort limit: the torque the gains would ask for), and, from BRAKE_FROM of the velocity limit
on, no further ahead along the motion than where the joint is; `hold()` keeps the last target it
let through (it carries the load offset a standing robot needs; the measured pose would sag),
or the measured pose when none passed yet.
"""
from __future__ import annotations

import math

import numpy as np

from sim2real.robots.spec import RobotSpec

BRAKE_FROM = 0.9   # fraction of the velocity limit where accelerating torque starts being cut
DAMPER_DELAY_S = 0.006   # loop delay up to which the over-speed damper keeps its full gain (the twin's
                         # nominal loop: a state and its command a step each, 2-4 ms)
HOLD_BANDWIDTH = 0.2     # the hold's natural frequency x the loop's delay (rad): a critically damped
                         # PD crosses over at ~2.4x it, so the delay costs ~28 deg of its ~76 deg of
                         # phase margin, leaving room for actuator lag the filter cannot see

try:    # np.clip's ufunc: the same values, without ~3 us of Python wrappers per call on 7 joints
    from numpy._core.umath import clip
except ImportError:  # numpy < 2
    clip = np.clip


class SafetyFilter:
    def __init__(self, robot: RobotSpec, loop_delay_s: float = 0.0, model=None):
        """model: q -> (gravity torque (n,), joint inertias (n,), kg m^2), the robot's nominal
        model, for the hold (None: configured gains scaled for the delay, no feed-forward)."""
        s = robot.safety
        self.model = model
        self.dt = robot.dt
        self.n = robot.n
        self.limit = robot.effort_limit
        self._neg_limit = -self.limit
        self.vmax = robot.velocity_limit * s.velocity_scale
        self._v_brake = BRAKE_FROM * self.vmax
        self.lo = robot.position_lower + s.position_margin   # -inf stays -inf
        self.hi = robot.position_upper - s.position_margin
        self.margin = s.position_margin
        # filter()'s common case, nothing to change: tau, q, qd between these bounds
        self._quiet_lo = np.concatenate((-self.limit, self.lo, -self._v_brake))
        self._quiet_hi = np.concatenate((self.limit, self.hi, self._v_brake))
        # hold gains are given for the strongest joint and scale with each joint's effort limit,
        # so weak wrist joints get gains their small inertia can take at the control rate
        scale = self.limit / self.limit.max()
        self.kp_hold, self.kd_hold = s.hold_kp * scale, s.hold_kd * scale
        self._hold_gains: tuple[np.ndarray, np.ndarray] | None = None   # (kp, kd) for this hold and delay
        self.set_loop_delay(loop_delay_s)
        self.k_wall = self.limit / max(s.position_margin, 1e-3)   # full torque at the hard limit
        self._hold_q: np.ndarray | None = None
        self.targets = robot.actuation != "effort"     # the command is joint positions, rad
        if self.targets:
            self.pd_kp, self.pd_kd = robot.pd_kp, robot.pd_kd
            self._pd_k = np.maximum(self.pd_kp, 1e-9)
        self._last_target: np.ndarray | None = None

    def set_loop_delay(self, loop_delay_s: float) -> None:
        """The velocity governor's cap and the over-speed damper's gain for a loop of this delay,
        s (module docstring)."""
        if np.ndim(loop_delay_s):     # one delay per row of a batch (the policy's environment)
            d = np.maximum(np.asarray(loop_delay_s, float), 1e-12)[:, None]
            self.loop_delay_s = d[:, 0]
            self.gov = np.minimum(1.0, (DAMPER_DELAY_S / d) ** 2)
            self.kd_over = 4.0 * self.kd_hold * self.gov
            return
        delay = max(float(loop_delay_s), 0.0)
        self.loop_delay_s = delay
        self._hold_gains = None          # set again for this delay at the hold's next step
        self.gov = min(1.0, (DAMPER_DELAY_S / delay) ** 2 if delay > 0 else 1.0)
        self.kd_over = 4.0 * self.kd_hold * self.gov

    def filter(self, tau, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(safe torque, reasons it was changed). q, qd in the robot's joint order."""
        tau = np.asarray(tau, dtype=float)
        if tau.shape != (self.n,):
            return self.hold(q, qd), [f"command has {tau.size} values, expected {self.n}"]
        if not math.isfinite(sum(tau.tolist())):     # one sum over Python floats: NaN/inf propagate
            return self.hold(q, qd), ["command contains NaN/inf"]
        self._hold_q = None
        if self.targets:
            return self._filter_targets(tau, q, qd)
        # the common case in one pass: inside the effort limits, the position band and below the
        # governor's speed: nothing to change
        # (one comparison each way over (tau, q, qd): |tau| <= limit, lo <= q <= hi, |qd| <= 0.9 vmax;
        # NaN in q or qd fails it, as it failed the three checks)
        x = np.concatenate((tau, q, qd))
        if ((x >= self._quiet_lo) & (x <= self._quiet_hi)).all():
            return tau, []
        return self.limits(tau, q, qd)

    def limits(self, tau, q, qd) -> tuple[np.ndarray, list[str]]:
        """The effort limit, the position wall and the velocity governor on torques; shapes
        broadcast, so (N, n) batches of simulations work too (the policy's training environment
        runs its loop through this)."""
        reasons = []
        out = clip(tau, self._neg_limit, self.limit)
        if (out != tau).any():
            reasons.append("effort limit")
        over_hi, over_lo = q > self.hi, q < self.lo
        if (over_hi | over_lo).any():
            wall = np.where(over_hi, -self.k_wall * (q - self.hi), self.k_wall * (self.lo - q)) - self.kd_hold * qd
            out = np.where(over_hi, np.minimum(out, 0.0) + np.minimum(wall, 0.0), out)
            out = np.where(over_lo, np.maximum(out, 0.0) + np.maximum(wall, 0.0), out)
            reasons.append("position limit")
        speed = np.abs(qd)
        near = speed > self._v_brake
        if near.any():
            # a governor: the torque along the motion is capped from +limit at BRAKE_FROM x vmax to
            # none at vmax; above vmax a damper brakes the excess, its gain set for the loop's
            # delay (module docstring). (A full reverse torque at the limit reversed a light joint
            # within one 2 ms step and chattered past the limit.)
            s_ = clip((speed - self._v_brake) / ((1.0 - BRAKE_FROM) * self.vmax), 0.0, 1.0)
            sgn = np.sign(qd)
            along = np.minimum(out * sgn, self.limit * (1.0 - self.gov * s_))
            along -= self.kd_over * np.maximum(speed - self.vmax, 0.0)
            out = np.where(near, along * sgn, out)
            reasons.append("velocity limit")
        return clip(out, self._neg_limit, self.limit), reasons

    def _filter_targets(self, target: np.ndarray, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, list[str]]:
        reasons = []
        out = clip(target, self.lo, self.hi)
        if out.tobytes() != target.tobytes():     # (finite values: as out != target, ~10x cheaper)
            reasons.append("position limit")
        # the PD's torque stays within the effort limit: target - q within (+-limit + kd qd) / kp
        k, kd_qd = self._pd_k, self.pd_kd * qd
        reach_lo, reach_hi = q + (self._neg_limit + kd_qd) / k, q + (self.limit + kd_qd) / k
        clipped = clip(out, reach_lo, reach_hi)
        if clipped.tobytes() != out.tobytes():
            reasons.append("effort limit")
        out = clipped
        speed = np.abs(qd)
        near = speed > self._v_brake
        if near.any():   # a fast joint gets no target ahead of it along its motion
            ahead = (out - q) * np.sign(qd) > 0
            out = np.where(near & ahead, q, out)
            reasons.append("velocity limit")
        self._last_target = out.copy()
        return out, reasons

    def hold(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Damped hold of the position latched at the first call since the last good command: a
        torque (effort robots) or that position as the target (position / PD-target robots)."""
        q = np.asarray(q, float)
        qd = np.asarray(qd, float)
        if not math.isfinite(float(q.sum() + qd.sum())):
            # the state itself is bad: no torque at all (effort), the last latched pose (targets)
            return np.zeros(self.n) if not self.targets or self._hold_q is None else self._hold_q.copy()
        if self._hold_q is None:
            self._hold_q = (self._last_target if self.targets and self._last_target is not None else q).copy()
            self._hold_gains = None
        if self.targets:
            return self._hold_q.copy()
        g = None
        if self.model is not None:
            g, inertia = self.model(q)
            if self._hold_gains is None:
                self._hold_gains = self.hold_gains(inertia)
        elif self._hold_gains is None:
            self._hold_gains = self.hold_gains(None)
        kp, kd = self._hold_gains
        tau = kp * (self._hold_q - q) - kd * qd
        if g is not None:
            tau = tau + g
        return clip(tau, -self.limit, self.limit)

    def hold_gains(self, inertia) -> tuple[np.ndarray, np.ndarray]:
        """(kp, kd) of the hold for the loop's delay (module docstring): the configured gains, or
        those of a critically damped hold of bandwidth HOLD_BANDWIDTH / delay where lower. The
        delay counted is the loop's, at least DAMPER_DELAY_S, plus the hold's own sample period."""
        delay = float(np.max(self.loop_delay_s)) if np.ndim(self.loop_delay_s) else self.loop_delay_s
        tau = max(delay, DAMPER_DELAY_S) + self.dt
        w = HOLD_BANDWIDTH / tau
        if inertia is None:        # no model: the configured gains, cut as a hold tuned at DAMPER_DELAY_S
            r = min(1.0, (DAMPER_DELAY_S + self.dt) / tau)
            return self.kp_hold * r * r, self.kd_hold * r
        inertia = np.asarray(inertia, float)
        return np.minimum(self.kp_hold, inertia * w * w), np.minimum(self.kd_hold, 2.0 * inertia * w)

    def release(self) -> None:
        self._hold_q = None
        self._hold_gains = None

    def clamp_desired(self, q_d: np.ndarray, qd_d: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """(q_d, qd_d) inside [lower + margin, upper - margin] and +-velocity limit; True if changed.
        Finite inputs only (callers refuse NaN/inf before)."""
        q = clip(q_d, self.lo, self.hi)
        qd = clip(qd_d, -self.vmax, self.vmax)
        changed = bool((q != q_d).any() or (qd != qd_d).any())
        return q, qd, changed


class LoopDelay:
    """The loop's delay as the safety filter sees it run: at a state stamped t_state arriving at
    (node clock) now, the command driving the motors answered a state no newer than t_cmd (the
    newest state when that command came), so now - t_cmd is the age of the information behind
    the motors' torque: transport of the state, the controller's turn, and commands that did not
    come. Peak-held, released with a time constant of RELEASE_S, so the filter keeps the softer
    damper through a slow stretch rather than re-arming between two late commands. The command's
    way back to the motors (and the actuators' lag) cannot be seen from here; it is taken as long
    as the state's (ROUND_TRIP x the age: transport both ways over one link). Measured on a twin
    with 15 ms each way: age 17 ms; the state side alone set the cap for 17 ms and the reach
    policies stayed at 0-10%, for 34 ms at 100%.
    `delay()` is max(the configured delay, ROUND_TRIP x this); `update()` says when the gains
    should change (by more than CHANGE)."""
    RELEASE_S = 2.0
    ROUND_TRIP = 2.0
    CHANGE = 0.15

    def __init__(self, configured_s: float = 0.0, max_age_s: float = 0.1):
        self.configured = max(float(configured_s), 0.0)
        self.max_age = float(max_age_s)   # older: an outage (no command yet, a dead controller), which
                                          # the watchdog's hold answers, not a loop's delay
        self.peak = 0.0
        self._t: float | None = None
        self.applied = self.configured

    def observe(self, now: float, t_cmd: float) -> None:
        age = now - t_cmd
        if not math.isfinite(age) or age < 0 or age > self.max_age:
            return
        if self._t is not None and now > self._t:
            self.peak *= math.exp(-(now - self._t) / self.RELEASE_S)
        self._t = now
        self.peak = max(self.peak, age)

    def delay(self) -> float:
        return max(self.configured, self.ROUND_TRIP * self.peak)

    def update(self) -> float | None:
        """The delay to set the filter to, when it moved by more than CHANGE since the last one."""
        d = self.delay()
        a, b = max(self.applied, DAMPER_DELAY_S), max(d, DAMPER_DELAY_S)   # below it: the same full gain
        if abs(b - a) > self.CHANGE * a or (b == DAMPER_DELAY_S and a > b):   # (back to full gain exactly)
            self.applied = d
            return d
        return None
