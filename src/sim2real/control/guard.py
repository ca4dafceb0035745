"""The guard over every adaptive controller mode: the baseline takes over before an adaptive
mode can hurt the robot, and hands back when it is safe again.

An adaptive mode fits its model online; with latency and actuator lag it can turn a model error
into a growing oscillation, or ask for torque the motors cannot give for seconds on end. The
guard runs the baseline (computed torque on the nominal model, control/computed_torque.py) next
to the mode on every state (a few tens of microseconds) and watches three things:

  envelope      the tracking error norm |q - q_d| leaves the baseline's envelope: ENV_GAIN x the
                error level the baseline kept while it drove (slow average) or, while it has not,
                the level it would keep (BaselineErrorModel: the nominal model's misses, measured
                on the robot, through the reference loop), at least ENV_ABS rad; for CONFIRM
                consecutive states
  oscillation   the energy of the high-passed velocity error (what a delay-driven oscillation
                feeds) is above OSC_GAIN x the baseline's level (at least OSC_ABS) and growing:
                its short average over GROWTH x its long one
  saturation    the mode's command sits at a torque limit on more than SAT_SHARE of the recent
                states, clearly more often than the baseline's would

A mode that trips RETIRE_AFTER times is retired: the baseline drives for good (until the node
restarts) and `status` says so. Each stint of a failing mode costs tracking the baseline would not
have lost: a learned inverse model that diverged on a delayed robot (20-60x the baseline unguarded)
was re-engaged after every hold and ended 2.2-2.6x the baseline's RMS after 3-4 trips per
trajectory; retired at its first trip, 1.0-1.2x. (Letting the baseline drive a probation first, so
the envelope knew the baseline's level from the start, cost the modes that work their start-up:
local_linear closed 72% of heavy-sticky's gap instead of 92%.)

On a trip the command blends to the baseline's within TRIP_BLEND steps (bumpless: a linear ramp
from the mode's command to the baseline's, both computed for the same state), and `status` says
why ("guard: ..."), which the controller node puts on /diagnostics. The mode keeps running in the
shadow and is told the command that was really sent (its applied() hook), so its fit, delay line
and motor-strength estimate follow the real robot and nothing winds up. After HOLD_S (doubled on
every trip within BACKOFF_RESET_S of the last, up to HOLD_MAX_S) it is re-engaged, over
ENGAGE_BLEND steps, once the error is inside the envelope, the oscillation energy is low, its
shadow command is not saturated and no rougher than the baseline's.

make_mode (control/modes.py) wraps every mode the registry marks adaptive, so the controller node
and the benchmark run the same guard.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.reference import Desired


class BaselineErrorModel:
    """The tracking error the baseline would have here, while another mode drives: computed torque
    makes the error follow the reference loop, e'' = -Kp e - Kd e' + (what the nominal model
    misses), so each consecutive pair of states, with the joint torques measured between them,
    gives the nominal model's miss as a velocity change, delta = qd' - (qd + dt M^-1 (tau - h -
    f_c tanh(qd / v_eps))), and the error that miss would leave is run through that loop
    (semi-implicit Euler, per joint), from the error measured at the first state. Without measured
    torques it only decays. The speed cap and the hold term of the real baseline are left out:
    against the baseline's own errors (laggy-noisy, heavy-sticky, heldout-light-quick and a
    private profile, three trajectories each) the predicted per-joint RMS was 0.3-2.1x the
    measured. The misses are those along the path the driving mode takes: a mode that shakes the
    arm makes friction and damping errors show more, and widens the envelope; the oscillation
    watch below does not depend on it."""
    V_EPS = 0.02

    def __init__(self, model, robot):
        self.m, self.dt = model, robot.dt
        self.kp, self.kd = np.asarray(robot.kp, float), np.asarray(robot.kd, float)
        self.e = self.v = None          # (n,) rad, rad/s
        self._prev = None               # (stamp, q, qd)

    def update(self, t, q, qd, d: Desired, effort) -> float:
        """|e| (rad) after this state."""
        if self.e is None:
            self.e, self.v = np.array(q - d.q, float), np.array(qd - d.qd, float)
        elif abs(t - self._prev[0] - self.dt) < 0.5 * self.dt:
            delta = 0.0
            if effort is not None and len(effort) == len(q) and np.all(np.isfinite(effort)):
                _, pq, pqd = self._prev
                M, h = self.m.dynamics(pq, pqd)
                acc = np.linalg.solve(M, np.asarray(effort, float) - h
                                      - self.m.frictionloss * np.tanh(pqd / self.V_EPS))
                delta = qd - (pqd + self.dt * acc)
            self.v += -self.dt * (self.kp * self.e + self.kd * self.v) + delta
            self.e += self.dt * self.v
            if not (np.all(np.isfinite(self.e)) and np.all(np.isfinite(self.v))):
                self.e, self.v = np.array(q - d.q, float), np.array(qd - d.qd, float)
        self._prev = (t, q, qd)
        return float(np.sqrt(self.e @ self.e))


class GuardedMode:
    ENV_ABS = 0.05         # rad, error norm below which the envelope never trips
    RETIRE_AFTER = 1       # trips after which the mode is retired (the hold and re-engagement below
                           # serve larger settings)
    ENV_GAIN = 3.0         # x the baseline's error level
    CONFIRM = 3            # consecutive states outside the envelope
    OSC_ABS = 0.6          # (rad/s)^2, summed over joints: high-passed velocity error energy (0.15 tripped
                           # falsely as a fast sine ramped in on heldout-stiff-slow)
    OSC_GAIN = 4.0         # x the baseline's level
    GROWTH = 1.6           # short / long average of that energy: growing
    SAT_SHARE = 0.5        # share of recent states (0.1 s) with a joint at its torque limit
    SAT_MARGIN = 0.3       # ... more than the baseline's share by this much
    HOLD_S = 0.5           # s on the baseline before the mode may come back
    HOLD_MAX_S = 8.0
    BACKOFF_RESET_S = 5.0  # a trip this long after the last one starts the back-off afresh
    TRIP_BLEND = 4         # states to blend to the baseline
    ENGAGE_BLEND = 50      # states to blend back to the mode (0.1 s at 500 Hz)

    def __init__(self, inner, baseline, robot, **overrides):
        for k, v in overrides.items():
            if not hasattr(self, k.upper()):
                raise TypeError(f"GuardedMode: unknown setting {k!r}")
            setattr(self, k.upper(), v)
        self.inner, self.baseline = inner, baseline
        self.name = inner.name
        inner.deferred = True           # it learns from the command really sent (applied())
        self.n, self.dt = robot.n, robot.dt
        self.limit = np.asarray(robot.effort_limit, float)
        self._sat = 0.99 * self.limit
        dt = robot.dt
        self._a_lp = dt / 0.1           # velocity-error low pass (its complement: the high pass)
        self._a_fast = dt / 0.04        # short energy average
        self._a_slow = dt / 0.4         # long energy average
        self._a_level = dt / 0.5        # the baseline's error and energy levels
        self._a_sat = dt / 0.1          # saturation shares
        self.alpha = 1.0                # share of the mode's command in what is sent
        self.engaged = True
        self.reason = ""
        self.retired = False
        self.trips = 0
        self.events: list[tuple[float, str]] = []   # (stamp, what) for reports
        self.baseline_steps = 0         # states the baseline drove (alpha < 1)
        self.steps = 0
        self._reset_signals()
        self._base_err = None           # the baseline's error level (rad), None until it drove
        law = getattr(baseline, "law", None)
        self._pred = BaselineErrorModel(law.m, robot) if law is not None else None
        self._pred_err = None           # the level the baseline would keep (rad), from _pred
        self._pred_now = 0.0            # and its error now (rad)
        self._base_osc = None
        self._out = 0
        self._t_trip = -np.inf
        self._hold = self.HOLD_S
        self._prev_ua = self._prev_ub = None
        self._rough_a = self._rough_b = 0.0

    def _reset_signals(self) -> None:
        self._lp = np.zeros(self.n)
        self._e_fast = self._e_slow = 0.0
        self._sat_a = self._sat_b = 0.0
        self._primed = 0

    def __getattr__(self, item):        # the mode's own attributes (k, lookahead, meta, ...)
        if item in ("inner", "__setstate__"):
            raise AttributeError(item)
        return getattr(self.inner, item)

    @property
    def status(self) -> str:
        inner = self.inner.status
        if self.engaged and self.alpha >= 1.0:
            return inner
        if self.engaged:
            out = f"guard: re-engaging {self.name} (after {self.reason})"
        elif self.retired:
            out = (f"guard: {self.reason}; computed_torque drives from now on ({self.name} retired after "
                   f"{self.trips} trip(s))")
        else:
            out = f"guard: {self.reason}; computed_torque drives until it is safe again (trip {self.trips})"
        return out if inner == "ok" else f"{out}; {self.name}: {inner}"

    def reset(self) -> None:
        if hasattr(self.inner, "reset"):
            self.inner.reset()
        self._reset_signals()
        self._prev_ua = self._prev_ub = None

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        u_a = self.inner.command(t, q, qd, d, effort)
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
            self._reset_signals()       # the mode's own safe answer (zero torque), its status
            self._prev_ua = self._prev_ub = None
            return u_a
        u_b = self.baseline.command(t, q, qd, d, effort)
        if not np.all(np.isfinite(u_a)):
            u_a = u_b
        self.steps += 1
        if self._pred is not None:
            ep = self._pred.update(t, q, qd, d, effort)
            a = self._a_level       # the level it keeps, or what it would have now when that is more
            self._pred_err = ep if self._pred_err is None else self._pred_err + a * (ep - self._pred_err)
            self._pred_now = ep
        self._watch(t, q, qd, d, u_a, u_b)
        a = self.alpha
        u = u_a if a >= 1.0 else (u_b if a <= 0.0 else a * u_a + (1.0 - a) * u_b)
        u = np.clip(u, -self.limit, self.limit)
        if a < 1.0:
            self.baseline_steps += 1
        if hasattr(self.inner, "applied"):
            self.inner.applied(u)
        return u

    # ---- the watch -------------------------------------------------------------------------------
    def _watch(self, t, q, qd, d, u_a, u_b) -> None:
        e = q - d.q
        en = float(np.sqrt(e @ e))
        ve = qd - d.qd
        self._lp += self._a_lp * (ve - self._lp)
        hp = ve - self._lp
        E = float(hp @ hp)
        self._e_fast += self._a_fast * (E - self._e_fast)
        self._e_slow += self._a_slow * (E - self._e_slow)
        self._sat_a += self._a_sat * (float(np.any(np.abs(u_a) >= self._sat)) - self._sat_a)
        self._sat_b += self._a_sat * (float(np.any(np.abs(u_b) >= self._sat)) - self._sat_b)
        if self._prev_ua is not None:
            da, db = (u_a - self._prev_ua) / self.limit, (u_b - self._prev_ub) / self.limit
            self._rough_a += self._a_sat * (float(da @ da) - self._rough_a)
            self._rough_b += self._a_sat * (float(db @ db) - self._rough_b)
        self._prev_ua, self._prev_ub = u_a, u_b
        self._primed += 1
        if self.alpha <= 0.0:           # the baseline drives: its levels are the envelope
            a = self._a_level
            self._base_err = en if self._base_err is None else self._base_err + a * (en - self._base_err)
            ef = self._e_fast
            self._base_osc = ef if self._base_osc is None else self._base_osc + a * (ef - self._base_osc)
        env = max(self.ENV_ABS, self.ENV_GAIN * max(self._base_err or 0.0, self._pred_err or 0.0, self._pred_now))
        osc = max(self.OSC_ABS, self.OSC_GAIN * (self._base_osc or 0.0))
        if self.engaged:
            reason = None
            self._out = self._out + 1 if en > env else 0
            if self._out >= self.CONFIRM:
                reason = f"tracking error {1e3 * en:.1f} mrad beyond the baseline's envelope ({1e3 * env:.1f})"
            elif self._primed > 50 and self._e_fast > osc and self._e_fast > self.GROWTH * self._e_slow:
                reason = f"growing oscillation (velocity error energy {self._e_fast:.2f}, limit {osc:.2f})"
            elif self._sat_a > self.SAT_SHARE and self._sat_a > self._sat_b + self.SAT_MARGIN:
                reason = f"sustained torque saturation ({100 * self._sat_a:.0f}% of states)"
            if reason:
                self._trip(t, reason)
            elif self.alpha < 1.0:
                self.alpha = min(1.0, self.alpha + 1.0 / self.ENGAGE_BLEND)
            return
        self.alpha = max(0.0, self.alpha - 1.0 / self.TRIP_BLEND)
        if self.retired or t - self._t_trip < self._hold:
            return
        calm = en <= max(0.5 * self.ENV_ABS, 2.0 * (self._base_err or 0.0)) \
            and self._e_fast <= osc and self._sat_a <= self._sat_b + 0.1 \
            and self._rough_a <= 4.0 * self._rough_b + 1e-6
        if calm:
            self.engaged, self._out = True, 0
            self.events.append((t, f"re-engaged {self.name}"))

    def _trip(self, t, reason: str) -> None:
        self._hold = self.HOLD_S if t - self._t_trip > self.BACKOFF_RESET_S else min(2.0 * self._hold, self.HOLD_MAX_S)
        self.engaged, self.reason, self._t_trip, self._out = False, reason, t, 0
        self.trips += 1
        self.events.append((t, f"baseline takes over: {reason}"))
        if self.trips >= self.RETIRE_AFTER:
            self.retired = True
            self.events.append((t, f"{self.name} retired after {self.trips} trip(s)"))
