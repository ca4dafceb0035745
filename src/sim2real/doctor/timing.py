"""The loop's timing and each motor's torque gain, read from the driver's own torque sensing.

A torque-sensing driver (the Jaco's joint torque sensors) reports the torque each motor really
produces. That is the command after the round trip (command transport, the doctor's state
transport back) and the actuator: effort(t) = gain * lag_tau(command)(t - L), with `lag_tau` a
first-order filter (time constant tau) and `gain` the command scale times the motor strength.
Fitting L, tau and gain per slot on the recorded signals needs no dynamics model and no motion:
the probe can be tiny, and a weak motor, a scale error, latency and lag each get their own figure.

Also here: how stiff a hold may be for a loop delay (`hold_bandwidth`), so that the doctor's PD
keeps a phase margin at any latency it measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

TAUS_S = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04)
MAX_DELAY_S = 0.1          # round trips searched, s
DELAY_PHASE = 0.7          # rad of phase the delay and lag may take at the hold's crossover
CROSSOVER = 2.06           # crossover / natural frequency of a critically damped PD on an inertia
STALE_STEPS = 4            # periods: a command older than this when acted on has met the driver's deadline
MAX_HOLD_W = 8.0           # rad/s: never stiffer than this (the hold's bandwidth with no delay)


@dataclass
class TimingFit:
    delay_s: float      # command -> torque at the motor -> state back: the loop's round trip
    lag_s: float        # first-order actuator time constant
    gain: np.ndarray    # (n,) torque produced / torque commanded, per slot
    r2: np.ndarray      # (n,) share of the effort's variation the fit explains, per slot


def grid(t: np.ndarray, dt: float) -> np.ndarray:
    """Sample times (s) -> indices on the control period's grid (drops leave holes)."""
    return np.round((t - t[0]) / dt).astype(int)


def zoh(idx: np.ndarray, x: np.ndarray, length: int) -> np.ndarray:
    """Values x (T, n) issued at grid indices idx, held until the next: (length, n)."""
    pos = np.searchsorted(idx, np.arange(length), side="right") - 1
    return x[np.maximum(pos, 0)]


def lag(u: np.ndarray, tau: float, dt: float) -> np.ndarray:
    """First-order lag along axis 0 as a motor controller steps it: y_k = y_{k-1} + a (u_k - y_{k-1})."""
    if tau <= 0:
        return u
    a = 1.0 - np.exp(-dt / tau)
    return lfilter([a], [1.0, a - 1.0], u, axis=0, zi=(1 - a) * u[:1])[0]


def fit(t, cmd, effort, windows, dt, delays=None, taus=TAUS_S, t_cmd=None) -> tuple[np.ndarray, np.ndarray]:
    """Residual table and gains over (delay steps, tau) for each slot.

    t (T,) s state stamps; cmd (T, n) the command issued on each state; effort (T, n) measured;
    windows [(t0, t1)] the samples to fit (pulses and a little before); t_cmd (T,) s when each
    command left, on the stamps' clock (default: the stamp it answered). Returns (err, gain),
    both (len(delays), len(taus), n): err is the residual share of the effort's variation there.
    """
    delays = np.arange(int(MAX_DELAY_S / dt) + 1) if delays is None else np.asarray(delays)
    t_cmd = t if t_cmd is None else t_cmd
    lo = min(w[0] for w in windows) - MAX_DELAY_S - 0.2          # history enough for the lag
    hi = max(w[1] for w in windows)
    ke, kc = (t >= lo) & (t < hi), (t_cmd >= lo) & (t_cmd < hi)
    shape = (len(delays), len(taus), cmd.shape[1])
    if ke.sum() < 3 or kc.sum() < 3:       # no states in the windows (all lost): nothing fits
        return np.ones(shape), np.zeros(shape)
    idx = np.round((t[ke] - lo) / dt).astype(int)
    idx_u = np.round((t_cmd[kc] - lo) / dt).astype(int)
    u = zoh(idx_u, cmd[kc], max(idx[-1], idx_u[-1]) + 1)
    t, effort = t[ke], effort[ke]
    sel = np.zeros(len(t), bool)
    for t0, t1 in windows:
        sel |= (t >= t0) & (t < t1)
    if not sel.any():
        return np.ones(shape), np.zeros(shape)
    k, e = idx[sel], effort[sel]
    var = np.mean((e - e.mean(0)) ** 2, axis=0) + 1e-12
    # a motor whose newest command is older than the driver's deadline acts on the driver's own
    # hold, not on it (a loaded machine that answered late): those samples say nothing of the loop
    pos = np.searchsorted(idx_u, np.arange(len(u)), side="right") - 1
    stale = np.where(pos >= 0, np.arange(len(u)) - idx_u[np.maximum(pos, 0)], 0) > STALE_STEPS
    err = np.full((len(delays), len(taus), cmd.shape[1]), np.inf)
    gain = np.zeros_like(err)
    at = np.maximum(k[None, :] - delays[:, None], 0)           # (delays, m) grid index acted on
    w = (~stale[at]).astype(float)[:, :, None]                  # (delays, m, 1)
    wsum = np.maximum(w.sum(axis=1), 1.0)
    for b, tau in enumerate(taus):
        x = lag(u, tau, dt)[at]                                 # (delays, m, n) what the motors acted on
        xx = np.sum(w * x * x, axis=1)
        g = np.sum(w * x * e, axis=1) / np.maximum(xx, 1e-12)
        err[:, b] = np.sum(w * (e - g[:, None, :] * x) ** 2, axis=1) / wsum / var
        gain[:, b] = g
    return err, gain


def fit_loop(t, cmd, effort, windows, dt, slots=None, t_cmd=None) -> TimingFit:
    """One delay and lag for the loop (over the given slots, each weighed by its own variation),
    a gain per slot."""
    delays = np.arange(int(MAX_DELAY_S / dt) + 1)
    err, gain = fit(t, cmd, effort, windows, dt, delays, t_cmd=t_cmd)
    use = slice(None) if slots is None else list(slots)
    a, b = np.unravel_index(np.argmin(err[:, :, use].sum(axis=2)), err.shape[:2])
    return TimingFit(float(delays[a] * dt), TAUS_S[b], gain[a, b].copy(), 1.0 - err[a, b])


def fit_slot(t, cmd, effort, windows, dt, slot: int, delay_s: float | None = None,
             t_cmd=None) -> tuple[float, float, float, float]:
    """(delay s, lag s, gain, r2) of one slot; with delay_s given, only the lag and gain are fitted."""
    delays = np.arange(int(MAX_DELAY_S / dt) + 1) if delay_s is None else np.array([int(round(delay_s / dt))])
    err, gain = fit(t, cmd[:, [slot]], effort[:, [slot]], windows, dt, delays, t_cmd=t_cmd)
    a, b = np.unravel_index(np.argmin(err[:, :, 0]), err.shape[:2])
    return float(delays[a] * dt), TAUS_S[b], float(gain[a, b, 0]), float(1.0 - err[a, b, 0])


def hold_bandwidth(delay_s: float, lag_s: float) -> float:
    """The PD hold's natural frequency (rad/s) that leaves the delay and lag DELAY_PHASE of phase at
    crossover: delay * wc + atan(lag * wc) = DELAY_PHASE, wc = CROSSOVER * w (critically damped)."""
    lo, hi = 0.1, CROSSOVER * MAX_HOLD_W
    for _ in range(40):
        wc = 0.5 * (lo + hi)
        if delay_s * wc + np.arctan(lag_s * wc) > DELAY_PHASE:
            hi = wc
        else:
            lo = wc
    return min(MAX_HOLD_W, lo / CROSSOVER)


def fit_takeover(t, cmd, effort, t_listen, brake, dt) -> tuple[float, float, float, float]:
    """The moment a hold takes over from the driver's own: until the round trip has passed the
    motor still produces the driver's torque `brake`, then gain * lag(command). One slot:
    t (T,) s from the first state listened to, cmd (T,) (NaN while listening), effort (T,);
    t_listen: when the hold took over. Returns (delay s, lag s, gain, r2) of the best fit."""
    delays = np.arange(int(MAX_DELAY_S / dt) + 1)
    idx = grid(t, dt)
    length = idx[-1] + 1
    k0 = int(round((t_listen - t[0]) / dt))
    ours = np.nan_to_num(zoh(idx, cmd, length))
    ours[:k0] = 0.0
    theirs = np.zeros(length)
    theirs[:k0] = brake
    sel = t >= t_listen
    k, e = idx[sel], effort[sel]
    var = float(np.sum((e - e.mean()) ** 2)) + 1e-12
    at = np.maximum(k[None, :] - delays[:, None], 0)
    best = (np.inf, 0.0, 0.0, 1.0)
    for tau in TAUS_S:
        x1, x2 = lag(theirs, tau, dt)[at], lag(ours, tau, dt)[at]      # (delays, m)
        r = e - x1
        g = np.sum(r * x2, axis=1) / np.maximum(np.sum(x2 * x2, axis=1), 1e-12)
        err = np.sum((r - g[:, None] * x2) ** 2, axis=1)
        a = int(np.argmin(err))
        if err[a] < best[0]:
            best = (float(err[a]), float(delays[a] * dt), tau, float(g[a]))
    return best[1], best[2], best[3], 1.0 - best[0] / var


def area_gain(t, cmd, effort, pulses, dt, delay_s: float, after_s: float) -> float:
    """One slot's torque gain as the torque its pulses produced over what they commanded, area
    against area: misaligned samples (a loaded machine answering late, states lost) leave areas
    as they are, where they bias a least-squares fit towards 0. pulses: [(t_start s, sign)];
    each area from 20 ms before the pulse to after_s after it, the effort's shifted by delay_s,
    each against its level just before."""
    idx = grid(t, dt)
    length = idx[-1] + 1
    u = zoh(idx, cmd, length)
    e = np.interp(np.arange(length), idx, effort)
    L = int(round(delay_s / dt))
    num = den = 0.0
    for ts, sign in pulses:
        k0 = int(round((ts - t[0]) / dt)) - int(0.02 / dt)
        k1 = k0 + int(after_s / dt)
        if k0 < 5 or k1 + L >= length:
            continue
        ub, eb = u[k0 - 5:k0].mean(), e[k0 + L - 5:k0 + L].mean()
        num += sign * float(np.sum(e[k0 + L:k1 + L] - eb))
        den += sign * float(np.sum(u[k0:k1] - ub))
    return num / den if abs(den) > 1e-9 else float("nan")
