"""Controller mode `nn_prior_lqr`: Fu, Levine, Abbeel 2015, Algorithm 1, on joint torques.

Every control step:
  1. add the last transition xi = [x; u; qd'] to a running Gaussian with forgetting gamma;
  2. linearise the global dynamics prior at the current (x, u): qd' ~ F [x; u] + f0. The prior is
     the nominal rigid-body model plus a neural network trained on simulated randomized data for
     what that model misses (`sim2real train dynamics-prior`; see train.py for why not the NN
     alone);
  3. build the normal-inverse-Wishart prior whose conditional is that linearisation, centred on
     the empirical mean: mu0 = [mu_xu; F mu_xu + f0], Phi = n0 [[S, S F^T], [F S, F S F^T + N]];
  4. posterior (dynamics_prior.posterior), condition on [x; u] -> f_xu, f_c;
  5. LQR over a short horizon on x' = A x + B u + c (positions integrate the velocities) toward
     the reference model's rollout x_bar(t..t+H) (reference.py); apply u = K_0 x + k_0.

The prior's torque gain is corrected per joint on a slower time scale (250 transitions,
local_linear.TorqueGainFit): with gamma = 0.9 the Gaussian sees ten samples, too few to tell a
heavier arm from a bias, and its slopes must lean on the prior (below).
As in local_linear, u in a transition is the measured joint torque when the driver reports it
(the command reaches the motors only after latency and lag), a slow motor-strength estimate
scales the command, and the dynamic rows are the velocity rows (q' = q + dt qd' is kinematics).
Safety: a non-finite or implausible posterior falls back to the prior's linearisation, and a
non-finite LQR solution to the computed torque on the prior; `status` says which.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.dynamics_prior import NIWPrior, RunningGaussian, condition, posterior
from sim2real.control.local_linear import (DelayLine, MotorStrength, TorqueGainFit, measured_torques,
                                           shift_desired)
from sim2real.control.lqr import lqr
from sim2real.learn.checkpoint import load_checkpoint
from sim2real.control.reference import ReferenceModel


class NNPriorLQRMode:
    name = "nn_prior_lqr"
    LAG_INVERSION = 0.5     # share of the actuators' lag the command inverts, as local_linear's

    def __init__(self, model, checkpoint, gamma: float = 0.9, mean_strength: float = 1.0,
                 cov_strength: float = 20.0, horizon: int = 2,
                 q_weight: float = 1.0, r_weight: float = 1e-6, strength_tau: float = 0.5,
                 residual_limit: float = 0.75, gain_window: int = 250, latency_s: float = 0.0,
                 lag_s: float = 0.0):
        r = model.robot
        self.m, self.robot = model, r
        self.n, self.dt, self.limit = r.n, r.dt, r.effort_limit
        # (q, qd) -> the acceleration the nominal model misses
        self.net, self.meta = load_checkpoint(checkpoint, "dynamics_prior", r,
                                              layout={"n_in": 2 * r.n, "n_out": r.n, "target": "residual"})
        self.ref = ReferenceModel.for_robot(r)
        self.stats = RunningGaussian(4 * r.n, gamma)
        # NIW strengths: the mean (the bias the arm needs now) follows the data within a few steps;
        # the covariance, whose conditional gives the slopes, leans on the prior, because slopes
        # fitted from 500 Hz noisy velocities are attenuated (errors in variables) and a wrong
        # velocity slope turned into negative damping that 34 ms of delay made unstable
        self.m0, self.n0 = mean_strength, cov_strength
        self.horizon, self.residual_limit = horizon, residual_limit
        # scale floor of the prior's input covariance: unexcited directions keep the NN's slopes
        self.floor = np.concatenate([np.full(r.n, 0.05 ** 2), np.full(r.n, 0.2 ** 2), (0.1 * r.effort_limit) ** 2])
        self.noise = np.full(r.n, (0.05) ** 2)
        n2 = 2 * r.n
        # cost in acceleration-like units: a position error weighs as that error over a step
        self.Q = np.diag(np.concatenate([np.full(r.n, q_weight / self.dt ** 2), np.ones(r.n)]))
        self.R = np.diag(r_weight / r.effort_limit ** 2)
        self.A = np.zeros((horizon, n2, n2))
        self.B = np.zeros((horizon, n2, r.n))
        self.c = np.zeros((horizon, n2))
        self.strength = MotorStrength(r.n, r.dt, strength_tau, r.effort_limit)
        self.gain = TorqueGainFit(r.n, gain_window) if gain_window else None
        self._last_prior = None   # (qd' of the prior at u = 0, d qd' / d u) at the previous step
        self.delay = DelayLine(r.n, r.dt, latency_s, lag_s)
        self.status = "ok"
        self._prev = None   # (stamp, x, u commanded)
        self._ctx = None    # (stamp, x measured, measured torques?) for applied()
        self.deferred = False   # a guard calls applied() itself with the command it really sent

    def reset(self) -> None:
        self.stats = RunningGaussian(4 * self.n, self.stats.gamma)
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
        if measured:
            u_now = effort
        else:    # what acts now: the command of one delay before (the previous one without a delay)
            u_now = self.delay.acting(t) if self.delay else None
            if u_now is None:
                u_now = self._prev[2] if self._prev is not None else np.zeros(n)
        x_m = x
        if self._prev is not None and abs(t - self._prev[0] - dt) < 0.5 * dt:
            self.stats.add(np.concatenate([self._prev[1], u_now, qd]))
            if self.gain is not None and self._last_prior is not None:
                free, Bu = self._last_prior
                z = Bu @ u_now
                self.gain.add(z, qd - free - z)
        if measured:
            self.strength.update(effort)
        # 2. the prior's linearisation at (x, u)
        xu = np.concatenate([x, u_now])
        M, h = self.m.dynamics(q, qd)
        Minv = np.linalg.inv(M)
        res, J = self.net.value_and_jacobian(x)
        acc = Minv @ (u_now - h) + res
        F = np.zeros((n, 3 * n))
        F[:, :2 * n] = dt * J
        F[:, 2 * n:] = dt * Minv
        F[:, n:2 * n] += np.eye(n)
        f0 = qd + dt * acc - F @ xu
        self._last_prior = (f0 + F[:, :2 * n] @ x, F[:, 2 * n:].copy())   # prior qd'(u) = free + B u
        if self.gain is not None:
            # the prior's torque gain, corrected per joint on a slower time scale (local_linear.py)
            F[:, 2 * n:] *= (1.0 + self.gain.beta)[:, None]   # qd'(u) = free + (1 + beta) B u
        f_xu, f_c, status = self._posterior(F, f0, xu, M)
        # 5. LQR on the full state
        A_v, B_v = f_xu[:, :2 * n], f_xu[:, 2 * n:]
        self.A[:, :n, :] = dt * A_v
        self.A[:, :n, :n] += np.eye(n)
        self.A[:, n:, :] = A_v
        self.B[:, :n, :], self.B[:, n:, :] = dt * B_v, B_v
        self.c[:, :n], self.c[:, n:] = dt * f_c, f_c
        y_lag = None
        if self.delay:
            # delay in the loop: run the measured state forward over the delay through the
            # posterior model with the torques already on their way; act for that state
            for u_k in self.delay.torques(t, u_now):
                y_lag = u_k
                qd = A_v @ x + B_v @ u_k + f_c
                q = q + dt * qd
                x = np.concatenate([q, qd])
            if not np.all(np.isfinite(x)):
                x, q, qd = x_m, x_m[:n], x_m[n:]
            d = shift_desired(d, self.delay.lead)
        x_bar = self.ref.rollout(q, qd, d, self.horizon)
        K, k = lqr(self.A, self.B, self.c, self.Q, self.R, x_bar)
        u = K[0] @ x + k[0]
        if not np.all(np.isfinite(u)):
            u, status = M @ self.ref.accel(q, qd, d) + h, "fallback: non-finite LQR solution (computed torque)"
        elif y_lag is not None and self.delay.lag > 0:
            # from the torque the lagged actuators hold when this command arrives (the last one
            # run forward), a step beyond u so that they get there sooner; clipped below, as the
            # oracle's (falling back per joint to u where it would pass the limits instead:
            # heldout-worn's payload 5.83 -> 4.72 mrad, laggy-noisy's 5.07 -> 5.45 and its
            # re-convergence 0.174 -> 0.664 s)
            u = self.delay.lead_command(u, y_lag, self.LAG_INVERSION)
        cmd = np.clip(u / self.strength.value if measured else u, -self.limit, self.limit)
        self.status = status
        self._ctx = (t, x_m, measured)
        if not self.deferred:
            self.applied(cmd)
        return cmd

    def applied(self, cmd) -> None:
        """The command really sent for this step's state (this mode's own, or a guard's)."""
        if self._ctx is None:
            return
        t, x, measured = self._ctx
        cmd = np.asarray(cmd, float)
        self.strength.commanded(cmd)
        self.delay.push(t, cmd * self.strength.value if measured else cmd)
        self._prev = (t, x, cmd)
        self._ctx = None

    def _posterior(self, F, f0, xu, M):
        n = self.n
        if self.stats.w < 2:
            return F, f0, "ok"
        mu_xu = self.stats.mean[:3 * n]
        S = self.stats.cov[:3 * n, :3 * n] + np.diag(self.floor)
        SF = S @ F.T
        Sigma0 = np.block([[S, SF], [SF.T, F @ SF + np.diag(self.noise)]])
        mu0 = np.concatenate([mu_xu, F @ mu_xu + f0])
        mu, Sigma = posterior(self.stats, NIWPrior(mu0, self.n0 * Sigma0, self.m0, self.n0))
        f_xu, f_c, _ = condition(mu, Sigma, 3 * n)
        if not (np.all(np.isfinite(f_xu)) and np.all(np.isfinite(f_c))):
            return F, f0, "fallback: non-finite posterior (prior linearisation)"
        B, B0 = f_xu[:, 2 * n:], F[:, 2 * n:]
        if np.linalg.norm(B - B0) > 0.5 * np.linalg.norm(B0):   # Frobenius: cheap, and enough here
            f_xu = np.hstack([f_xu[:, :2 * n], B0])   # keep the prior's torque gain
        # the bias the posterior asks for, as torque against the prior at this point
        need = np.abs(M @ ((f_xu @ xu + f_c) - (F @ xu + f0)) / self.dt)
        if np.any(need > self.residual_limit * self.limit):
            joints = ", ".join(self.robot.joint_names[i] for i in np.flatnonzero(need > self.residual_limit * self.limit))
            return F, f0, f"fallback: model residual beyond the torque limits on {joints} (stuck joint or collision?)"
        return f_xu, f_c, "ok"
