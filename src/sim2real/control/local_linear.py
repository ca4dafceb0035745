"""Online local linear dynamics and the torque that reaches a desired next state.

Mordatch, Mishra, Eppner, Abbeel 2015, "Combining model-based policy search with online model
learning for control of physical humanoids": at every control step fit

    x(t+1) = J_x x(t) + J_u u(t) + c                                   (local linear model)

to the most recent transitions, then choose the torque

    u* = argmin_u  1/2 || J_x x(t) + J_u u + c - x_bar(t+1) ||^2 + lambda/2 || u - u_ref ||^2
         s.t.      -u_max <= u <= u_max                                 (torque limits)

x = [q, qd] (2n,), u = tau (n,). The fit is ridge-regularised toward a prior model (the nominal
model's linearisation), so a window without excitation returns the prior instead of noise.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear


@dataclass
class LinearModel:
    J_x: np.ndarray   # (dx, dx)
    J_u: np.ndarray   # (dx, du)
    c: np.ndarray     # (dx,)

    def predict(self, x, u) -> np.ndarray:
        return self.J_x @ x + self.J_u @ u + self.c

    def stacked(self) -> np.ndarray:
        """[J_x J_u c] as one (dx, dx + du + 1) matrix."""
        return np.hstack([self.J_x, self.J_u, self.c[:, None]])

    @classmethod
    def from_stacked(cls, W: np.ndarray, dx: int, du: int) -> "LinearModel":
        return cls(W[:, :dx].copy(), W[:, dx:dx + du].copy(), W[:, dx + du].copy())


class LocalLinearFit:
    """Sliding-window ridge regression of (x, u) -> x', toward a prior model."""

    def __init__(self, dx: int, du: int, window: int = 50, ridge: float = 1e-3):
        self.dx, self.du, self.ridge, self.window = dx, du, ridge, window
        self._Z: np.ndarray | None = None   # ring buffer of regressor rows [x u 1]
        self._Y: np.ndarray | None = None   # and of targets x'
        self._n = 0                         # samples added so far

    def __len__(self) -> int:
        return min(self._n, self.window)

    def clear(self) -> None:
        self._n = 0

    def add(self, x, u, x_next) -> None:
        x_next = np.asarray(x_next, float)
        if self._Z is None:
            self._Z = np.empty((self.window, self.dx + self.du + 1))
            self._Y = np.empty((self.window, x_next.size))
        i = self._n % self.window
        self._Z[i, :self.dx], self._Z[i, self.dx:-1], self._Z[i, -1] = x, u, 1.0
        self._Y[i] = x_next
        self._n += 1

    def fit(self, prior: LinearModel, weights: np.ndarray | None = None,
            with_cond: bool = True) -> tuple[LinearModel, float]:
        """(model, condition number of the regressor Gram matrix, or nan without with_cond: an SVD
        the control loop does not need every step). Closed form:

            W = (X'^T Z + W0 R) (Z^T Z + R)^-1,  Z = [x u 1] rows, W0 the prior's [J_x J_u c],
            R = r diag(weights): how strongly each column of W is held to the prior
        """
        W0 = prior.stacked()
        if not len(self):
            return prior, np.inf
        Z, Xn = self._Z[:len(self)], self._Y[:len(self)]    # (N, dx+du+1), (N, dx')
        G = Z.T @ Z
        r = self.ridge * max(1.0, np.trace(G) / G.shape[0])
        R = r * (np.ones(G.shape[0]) if weights is None else np.asarray(weights, float))
        A = G + np.diag(R)
        W = np.linalg.solve(A.T, (Xn.T @ Z + W0 * R).T).T
        return LinearModel.from_stacked(W, self.dx, self.du), float(np.linalg.cond(G)) if with_cond else float("nan")


def solve_torque(model: LinearModel, x, x_bar, u_max, lam: float = 1e-4, u_ref=None) -> np.ndarray:
    """u* of the box-constrained regularised least squares above (scipy's bounded solver)."""
    u_ref = np.zeros(model.J_u.shape[1]) if u_ref is None else np.asarray(u_ref, float)
    r = x_bar - model.J_x @ x - model.c                      # what the torque must produce
    A = np.vstack([model.J_u, np.sqrt(lam) * np.eye(len(u_ref))])
    b = np.concatenate([r, np.sqrt(lam) * u_ref])
    u_max = np.asarray(u_max, float)
    return lsq_linear(A, b, bounds=(-u_max, u_max), method="bvls").x


class LocalLinearMode:
    """Controller mode `local_linear`.

    The prior is the nominal model's one-step map: qd' = qd + dt M^-1 (u - h - f), q' = q + dt qd'.
    Online, the velocity rows are corrected by a local linear model of the prior's residual,
    fitted over the last `window` transitions:  qd'(measured) - qd'(prior) = dJ_x x + dJ_u u + dc.
    The position rows are the integrator q' = q + dt qd' (kinematics, not dynamics: fitting them
    would fit encoder noise), so reaching qd_bar(t+1) reaches x_bar(t+1). dc is cheap to estimate
    (successive-difference noise telescopes over the window); dJ_x, dJ_u are held near zero by a
    strong prior weight and only move where the window excites them. Ten transitions (20 ms) are
    too few to see how the response to torque is off (inertia, payload, armature), so the torque
    gain of each joint's row, (1 + beta_j) B0, is fitted over a longer window (TorqueGainFit,
    250 transitions): on the benchmark it halved the error on fast sinusoids, where a bias alone
    lags the disturbance it chases.

    u in a transition is the torque the joints *measured* (JointState.effort) when the driver
    reports it: a command reaches the motors only after transport latency and actuator lag, and
    fitting against the command would read that delay as a model error and feed it back (it made
    the loop unstable with 34 ms of delay). The measured torque hides a weak motor, so a slow
    estimate of produced/commanded torque per joint (motor strength) scales the command.

    Safety: a non-finite or implausible fit (a correction needing more torque than the motors
    have, as a stuck joint or a collision produces) is limited, `status` says why, and the
    torque stays within the limits.
    """
    name = "local_linear"
    # share of the actuators' first-order lag inverted in the command (exponent p of alpha^-p; 1:
    # the whole lag, 0: none); the benchmark's oracle inverts the same share, for the same reason
    # (the whole multiplies measurement noise by 1 / alpha, x10 at 20 ms of lag)
    LAG_INVERSION = 0.5
    # the lead's step from the wanted torque smoothed over ~a step (DelayLine.lead_command): the
    # bias refitted every step over 10 transitions carries step-to-step noise, and multiplied by
    # alpha^-p it chattered the payload hold into the torque limits (bench controller: heldout-worn
    # re-convergence 0.618 -> 0.246 s, laggy-noisy payload 5.40 -> 5.33 mrad; heavy-sticky sines
    # 3.10 -> 3.30). nn_prior_lqr's command, from a long-memory fit, keeps the plain step (1.0):
    # smoothed it did worse on laggy-noisy (sines 7.65 -> 7.93 mrad)
    LEAD_SMOOTHING = 0.5

    def __init__(self, model, window: int = 10, prior_weight: float = 1e4, lam: float = 1e-3,
                 residual_limit: float = 0.75, strength_tau: float = 0.5, gain_window: int = 250,
                 latency_s: float = 0.0, lag_s: float = 0.0):
        from sim2real.control.reference import ReferenceModel
        self.m, r = model, model.robot
        self.n, self.dt, self.limit = r.n, r.dt, r.effort_limit
        self.ref = ReferenceModel.for_robot(r)
        self.fit = LocalLinearFit(2 * r.n, r.n, window=window, ridge=1.0)
        # hold dJ_x, dJ_u to the prior (zero correction); the constant dc is nearly free
        self.weights = np.concatenate([np.full(3 * r.n, prior_weight), [1e-6]])
        self.zero = LinearModel(np.zeros((r.n, 2 * r.n)), np.zeros((r.n, r.n)), np.zeros(r.n))
        self.lam, self.residual_limit = lam, residual_limit
        self.strength = MotorStrength(r.n, r.dt, strength_tau, r.effort_limit)
        self.gain = TorqueGainFit(r.n, gain_window) if gain_window else None
        self.delay = DelayLine(r.n, r.dt, latency_s, lag_s)
        self.status = "ok"
        self._prev = None   # (stamp, x, u commanded, qd' of the prior at u = 0, d qd'/d u)
        self._ctx = None    # what applied() needs of this step: (stamp, x, free, B0, measured)
        self.deferred = False   # a guard calls applied() itself with the command it really sent

    def reset(self) -> None:
        self.fit.clear()
        self.delay.clear()
        self._prev = None

    def command(self, t, q, qd, d, effort=None) -> np.ndarray:
        n, dt = self.n, self.dt
        x = np.concatenate([q, qd])
        if not np.all(np.isfinite(x)):
            self.status = "fallback: non-finite state"
            self._prev = self._ctx = None
            return np.zeros(n)
        measured = measured_torques(effort, n)
        q_m, qd_m = q, qd
        if self._prev is not None:
            pt, px, pu, pfree, pB = self._prev
            if abs(t - pt - dt) < 0.5 * dt:          # consecutive states only (drops break the pair)
                if measured:
                    u_applied = effort
                else:    # what acted during that step: the command of one delay before (pu without one)
                    u_applied = self.delay.acting(pt) if self.delay else None
                    u_applied = pu if u_applied is None else u_applied
                z = pB @ u_applied
                r = qd - (pfree + z)
                if self.gain is not None:
                    self.gain.add(z, r)
                    r = r - self.gain.beta * z
                self.fit.add(px, u_applied, r)
        if measured:
            self.strength.update(effort)
        M, h = self.m.dynamics(q, qd)
        Minv = np.linalg.inv(M)
        x_bar = self.ref.next_state(q, qd, d)
        qd_bar = x_bar[n:]
        fric = self.m.frictionloss * np.tanh(qd_bar / 0.02)
        free = qd - dt * Minv @ (h + fric)           # prior qd' with u = 0
        B0 = dt * Minv                                # prior d qd' / d u
        corr, status = self._correction(B0, M)
        B = B0 + corr.J_u if self.gain is None else (1.0 + self.gain.beta)[:, None] * B0 + corr.J_u
        free_m = free
        y_lag = None
        if self.delay:
            # delay in the loop: the state this command will meet is the measured one run forward
            # over the delay with the torques already on their way, through this mode's own model
            drift = corr.c + corr.J_x @ x - dt * Minv @ (h + fric)
            U = self.delay.torques(t, effort if measured else (self._prev[2] if self._prev else np.zeros(n)))
            q, qd = predict_velocity(q, qd, U, B, drift, dt)
            y_lag = U[-1]               # joint torque the actuators hold when this command arrives
            x = np.concatenate([q, qd])
            d = shift_desired(d, self.delay.lead)
            x_bar = self.ref.next_state(q, qd, d)
            qd_bar = x_bar[n:]
            fric = self.m.frictionloss * np.tanh(qd_bar / 0.02)
            free = qd - dt * Minv @ (h + fric)
        c = free + corr.J_x @ x + corr.c
        # least squares on accelerations (rows / dt), regularised toward the computed torque
        u_ct = M @ ((qd_bar - free) / dt)
        # normal equations of  || B u / dt - (qd_bar - c) / dt ||^2 + lam || (u - u_ct) / u_max ||^2
        Bs = B / dt
        reg = self.lam / self.limit ** 2
        u = np.linalg.solve(Bs.T @ Bs + np.diag(reg), Bs.T @ ((qd_bar - c) / dt) + reg * u_ct)
        if not np.all(np.isfinite(u)):
            u, status = u_ct, "fallback: non-finite torque"
        gain = self.strength.value if measured else np.ones(n)
        if y_lag is not None and self.delay.lag > 0:
            # the actuators reach u through their lag from y_lag, the torque they will hold when
            # this command arrives: ask for a step beyond u, so they get there sooner. Where that
            # passes the limits, the box-constrained optimum below, without it (inverted and
            # clipped instead: heldout-worn's payload 3.03 -> 7.10 mrad)
            u = self.delay.lead_command(u, y_lag, self.LAG_INVERSION, self.LEAD_SMOOTHING)
        if np.any(np.abs(u) > self.limit * gain):
            # saturating: the box-constrained optimum, not a clip (the joints are coupled through B)
            A = np.vstack([Bs, np.diag(np.sqrt(reg))])
            b = np.concatenate([(qd_bar - c) / dt, np.sqrt(reg) * u_ct])
            u = lsq_linear(A, b, bounds=(-self.limit * gain, self.limit * gain), method="bvls").x
        cmd = np.clip(u / gain, -self.limit, self.limit)
        self.status = status
        self._ctx = (t, np.concatenate([q_m, qd_m]), free_m, B0, measured)
        if not self.deferred:
            self.applied(cmd)
        return cmd

    def applied(self, cmd) -> None:
        """The command that was really sent for this step's state (this mode's own, or a guard's
        when it drives): the delay line, the motor-strength estimate and the next fit pair see it."""
        if self._ctx is None:
            return
        t, x, free, B0, measured = self._ctx
        cmd = np.asarray(cmd, float)
        self.strength.commanded(cmd)
        self.delay.push(t, cmd * self.strength.value if measured else cmd)
        self._prev = (t, x, cmd, free, B0)
        self._ctx = None

    def _correction(self, B0, M):
        if len(self.fit) < 5:
            return self.zero, "ok"
        corr, _ = self.fit.fit(self.zero, self.weights, with_cond=False)
        W = corr.stacked()
        if not np.all(np.isfinite(W)):
            self.fit.clear()
            return self.zero, "fallback: non-finite fit (window cleared)"
        if np.linalg.norm(corr.J_u) > 0.5 * np.linalg.norm(B0):   # Frobenius: cheap, and enough here
            corr = LinearModel(self.zero.J_x, self.zero.J_u, corr.c)
        need = np.abs(M @ corr.c / self.dt)           # torque the correction asks for
        over = need > self.residual_limit * self.limit
        if np.any(over):
            joints = ", ".join(self.m.robot.joint_names[i] for i in np.flatnonzero(over))
            scale = np.minimum(1.0, self.residual_limit * self.limit / np.maximum(need, 1e-12))
            c = np.linalg.solve(M, (M @ corr.c) * scale)
            return (LinearModel(corr.J_x, corr.J_u, c),
                    f"limited: model residual beyond the torque limits on {joints} (stuck joint or collision?)")
        return corr, "ok"


class TorqueGainFit:
    """Per joint, how much more (or less) velocity a torque makes than the prior says:
    r = beta * z, z = the prior's velocity change from the torque, r = the residual; fitted over a
    longer window (exponential, `window` samples) than the bias, on centred data, within
    [-0.5, 1.0]. Inertia, payload and armature errors scale the response to torque; a short
    window cannot see that, a lagging bias can only chase it."""

    def __init__(self, n: int, window: int):
        self.g = 1.0 - 1.0 / window
        self.w = 0.0
        self.mz, self.mr = np.zeros(n), np.zeros(n)
        self.szz, self.szr = np.zeros(n), np.zeros(n)
        self.beta = np.zeros(n)

    def add(self, z, r) -> None:
        self.w = self.g * self.w + 1.0
        dz, dr = z - self.mz, r - self.mr
        self.mz += dz / self.w
        self.mr += dr / self.w
        self.szz = self.g * self.szz + dz * (z - self.mz)
        self.szr = self.g * self.szr + dz * (r - self.mr)
        if self.w > 20:
            self.beta = np.clip(self.szr / (self.szz + 1e-12), -0.5, 1.0)


def measured_torques(effort, n: int) -> bool:
    """Does this state carry usable measured joint torques (n finite values)?"""
    return effort is not None and len(effort) == n and bool(np.all(np.isfinite(effort)))


class MotorStrength:
    """Produced / commanded torque per joint, from slow averages of both (exponential, time
    constant tau), so the few tens of ms between a command and its torque hardly matter. Only
    joints that carry a clear torque update; the estimate stays within [0.3, 1.5]."""

    FREEZE_S = 0.1   # after a saturated command, s during which a joint's estimate stays put

    def __init__(self, n: int, dt: float, tau: float, limit: np.ndarray):
        self.a = dt / tau
        self.value = np.ones(n)
        self._cmd = np.zeros(n)
        self._eff = np.zeros(n)
        self._min = 0.05 * limit
        self._sat = 0.999 * np.asarray(limit, float)
        self._freeze = np.zeros(n, int)
        self._freeze_steps = max(1, int(round(self.FREEZE_S / dt)))

    def commanded(self, u) -> None:
        self._cmd += self.a * (u - self._cmd)
        # no wind-up: a saturated command is not what the motor makes for long (the driver holds
        # once its period is over), so the ratio would drift; hold the estimate of that joint
        sat = np.abs(u) >= self._sat
        self._freeze -= 1
        self._freeze[sat] = self._freeze_steps

    def update(self, effort) -> None:
        self._eff += self.a * (effort - self._eff)
        ok = (np.abs(self._cmd) > self._min) & (self._freeze <= 0)
        if np.any(ok):
            ratio = np.clip(self._eff[ok] / self._cmd[ok], 0.3, 1.5)
            self.value[ok] += self.a * (ratio - self.value[ok])


class DelayLine:
    """The loop's delay, for a Smith-predictor style compensation: the joint torques this mode asked
    for, by the stamp of the state each answered. With a measured delay L (state transport +
    command transport + actuator lag, `latency_s`), the command answering the state stamped t acts
    on the joints from about t + L; so the torques acting over [t, t + L) are the ones asked for at
    t - L .. t - dt, and the command computed now should be the one for the state at t + L. With the
    actuators' lag known apart (lag_s; L then the transport alone), those torques reach the joints
    through it. The command is aimed at the desired state of t + L (`lead`), as the benchmark's
    oracle aims: aiming lag_s further (the desired state of t + L + lag, for the state at t + L)
    asked for a phase lead the loop did not have, 1.16x the baseline's RMS on laggy-noisy's
    sinusoids against 0.72x."""

    def __init__(self, n: int, dt: float, latency_s: float, lag_s: float = 0.0):
        self.n, self.dt = n, dt
        self.latency = max(0.0, float(latency_s))
        self.steps = int(round(self.latency / dt))
        # the actuators' first-order lag (s), when it is known apart from the transport delay: the
        # torques on their way reach the joints through it (0: lag counted in latency_s, as delay)
        self.lag = max(0.0, float(lag_s))
        self._a = 1.0 - np.exp(-dt / self.lag) if self.lag > 0 else 1.0
        self._hist: deque = deque(maxlen=self.steps + 8)   # (stamp, joint torque asked)
        self._buf = np.zeros((self.steps, n))
        self._want = None     # the torques asked for, smoothed over ~a step (lead_command)

    @property
    def alpha(self) -> float:
        """Share of the way to a new command the lagged actuators go in one step (1: no lag)."""
        return self._a

    @property
    def lead(self) -> float:
        """How far ahead of the state it answers a command starts to act, s: the transport delay
        (the lag, when known apart, is in the torques run forward, not in the aim)."""
        return self.latency

    def __bool__(self) -> bool:
        return self.steps > 0

    def clear(self) -> None:
        self._hist.clear()
        self._want = None

    def lead_command(self, u, y_lag, share: float, smoothing: float = 1.0) -> np.ndarray:
        """The command that brings the lagged actuators, holding y_lag when it arrives, to u sooner:
        a step beyond u, by share p of the first-order lag's inverse (x alpha^-p, 2.6 at 12.5 ms
        of lag with p = 0.5). With smoothing < 1 the step is taken from the torques asked for
        smoothed exponentially (the newest weighs `smoothing`), not from this step's alone: a
        mode whose command carries step-to-step noise would have it multiplied too, and near the
        torque limits a noisy command clips to less torque on average."""
        u = np.asarray(u, float)
        self._want = u.copy() if self._want is None else self._want + smoothing * (u - self._want)
        return u + (self._want - y_lag) * (self._a ** -share - 1.0)

    def push(self, t: float, u) -> None:
        self._hist.append((t, np.asarray(u, float)))

    def acting(self, t: float) -> np.ndarray | None:
        """The torque acting at t (asked at t - L or just before); None when not known."""
        best = None
        for ts, u in self._hist:
            if ts <= t - self.latency + 0.25 * self.dt:
                best = u
            else:
                break
        return best

    def torques(self, t: float, fallback) -> np.ndarray:
        """(steps, n): the torques acting at t, t + dt, ..., t + L - dt (oldest first); a step
        whose command is not known (start, after a reset) takes `fallback` (the torque measured
        now, or the previous one)."""
        out, hist, lat, tol = self._buf, self._hist, self.latency, 0.25 * self.dt
        cur, i, m = np.asarray(fallback, float), 0, len(hist)
        for k in range(self.steps):
            due = t + k * self.dt - lat + tol
            while i < m and hist[i][0] <= due:
                cur = hist[i][1]
                i += 1
            out[k] = cur
        if self.lag > 0:
            # through the actuators' lag, from the torque acting now (`fallback`: the measured one)
            y = np.array(fallback, float)
            for k in range(self.steps):
                y += self._a * (out[k] - y)
                out[k] = y
        return out


def predict_velocity(q, qd, U, B, drift, dt) -> tuple[np.ndarray, np.ndarray]:
    """State after len(U) steps of qd' = qd + drift + B u, q' = q + dt qd' (a model frozen at the
    measured state: over a few tens of ms M and h hardly change). U (K, n)."""
    if not len(U):
        return q, qd
    inc = U @ B.T
    inc += drift
    qds = qd + np.cumsum(inc, axis=0)
    return q + dt * qds.sum(axis=0), qds[-1]


def shift_desired(d, lead: float):
    """The desired state `lead` seconds later, extrapolated with its velocity and acceleration."""
    from sim2real.control.reference import Desired
    if lead <= 0.0:
        return d
    if d.qdd is None:
        return Desired(d.q + d.qd * lead, d.qd)
    return Desired(d.q + d.qd * lead + 0.5 * d.qdd * lead * lead, d.qd + d.qdd * lead, d.qdd)
