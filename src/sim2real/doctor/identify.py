"""What the experiment's record says about each joint, against the nominal model.

- direction and encoder offset from the torque that holds the arm at rest against gravity
  (tau_rest = g(q_true); g from the nominal model at the reported pose),
- torque-to-acceleration gain, command-to-motion latency and actuator lag by replaying the
  recorded commands on the nominal model with candidate latencies and lags (coupling, friction and
  damping included) and scaling its response to fit the measured one,
- sensor noise from the step-to-step differences at rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAGS_S = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03)
MAX_LATENCY_S = 0.03
WINDOW_S = 0.15          # s of response fitted after each pulse
GAIN_TOLERANCE = 0.15    # |gain - 1| within this: the joint's holding torque can be trusted for offsets


@dataclass
class JointID:
    name: str
    gain: float                 # measured torque->acceleration / model's
    latency_s: float            # command -> motion, round trip (command + state transport)
    lag_s: float                # first-order actuator time constant
    fit_r2: float
    tau_rest: float             # N m holding torque at rest (wire sign)
    g_model: float              # N m model gravity torque at the reported pose
    offset: float               # rad estimated encoder offset (nan where gravity cannot tell)
    noise: float                # rad position noise std


def _lagged(cmd: np.ndarray, dt: float, latency_steps: int, lag: float) -> np.ndarray:
    """(T, n) commands as the motors see them: delayed by whole steps, then first-order lag."""
    u = np.concatenate([np.repeat(cmd[:1], latency_steps, axis=0), cmd])[: len(cmd)]
    if lag > 0:
        a = 1.0 - np.exp(-dt / lag)
        y = u.copy()
        for i in range(1, len(u)):
            y[i] = y[i - 1] + a * (u[i - 1] - y[i - 1])
        u = y
    return u


def _replay(sim, q0, cmd) -> np.ndarray:
    """Joint positions (T, n) of the nominal model driven open loop by cmd (T, n) from rest at q0."""
    sim.reset(q0)
    out = np.empty_like(cmd)
    for i in range(len(cmd)):
        out[i] = sim.joint_state()[0]
        sim.step(cmd[i])
    return out


def fit_dynamics(rec, to_cfg, signs, sim, dt, gains=None):
    """Per joint (config order): (gain, latency s, lag s, r2), by replaying the recorded commands on
    the nominal model with each candidate latency and lag; the gain scales the model's response."""
    t, q, cmd = rec["t"], rec["q"], rec["cmd"]
    n = len(to_cfg)
    windows = {j: [] for j in range(n)}
    for slot, _, ts in rec["pulses"]:
        j = to_cfg.index(slot)
        i0 = int(np.searchsorted(t, ts - 1e-9))
        i1 = int(np.searchsorted(t, ts + WINDOW_S))
        if i1 - i0 < 20 or i0 < 25:
            continue
        c = cmd[i0 - 25:i1][:, to_cfg] * signs           # wire -> the model's joint order and sense
        if gains is not None:
            c = c * gains
        q0 = q[i0][to_cfg] * signs
        meas = (q[i0:i1, slot] - q[i0, slot]) * signs[j]
        hold = np.repeat(c[:25].mean(axis=0, keepdims=True), i1 - i0, axis=0)
        windows[j].append((c, q0, meas, _replay(sim, q0, hold)[:, j]))   # drift without the pulse
    out = []
    for j in range(n):
        best = (np.inf, np.nan, np.nan, np.nan)
        ys = np.concatenate([w[2] for w in windows[j]]) if windows[j] else np.zeros(0)
        for L in range(int(MAX_LATENCY_S / dt) + 1):
            for lag in LAGS_S:
                xs = []
                for c, q0, _, drift in windows[j]:
                    xs.append(_replay(sim, q0, _lagged(c, dt, L, lag)[25:])[:, j] - drift)
                if not xs:
                    continue
                x = np.concatenate(xs)
                denom = float(x @ x)
                if denom <= 0:
                    continue
                g = float(x @ ys) / denom
                err = float(np.sum((ys - g * x) ** 2))
                if err < best[0]:
                    best = (err, g, L * dt, lag)
        r2 = 1.0 - best[0] / max(float(np.sum((ys - ys.mean()) ** 2)), 1e-12) if len(ys) else 0.0
        scale = 1.0 if gains is None else gains[j]     # the replay already had joint j's estimate in it
        out.append((best[1] * scale, best[2], best[3], r2))
    return out


def identify(rec, order, robot, model) -> tuple[list[JointID], dict]:
    """Per joint (config order; `order` names the joint each wire slot reports), plus the gravity
    analysis: {"sign": {joint: -1}, "offset": {joint: rad}, ...}."""
    from sim2real.sim.simulator import Simulator
    t = rec["t"]
    dt = float(np.median(np.diff(t)))
    r0, r1 = (int(np.searchsorted(t, x)) for x in rec["rest"])
    cfg = list(robot.joint_names)
    to_cfg = [order.index(n) for n in cfg]                     # config joint j sits in wire slot to_cfg[j]
    q = rec["q"][r0:r1].mean(axis=0)[to_cfg]                   # reported pose, config order
    held = rec["cmd"][r0:r1].mean(axis=0)[to_cfg]              # torque holding each joint, wire sense
    signs = sign_hypotheses(held, q, model)
    sim = Simulator(robot)
    ids = fit_dynamics(rec, to_cfg, signs, sim, dt)
    if any(abs(abs(i[0]) - 1.0) > GAIN_TOLERANCE for i in ids):
        # a weak joint moves its neighbours less too: fit again with the first estimates applied
        ids = fit_dynamics(rec, to_cfg, signs, sim, dt, np.array([abs(i[0]) for i in ids]))
    # offsets only where the fit is good and the gain nominal: at one pose, a gain error and an
    # offset both change the holding torque and cannot be told apart
    well_fit = [name for name, i in zip(cfg, ids) if i[3] > 0.9 and abs(abs(i[0]) - 1.0) <= GAIN_TOLERANCE]
    # a weak motor holds with more command: scale its holding torque by the measured gain; within
    # tolerance leave it (a 3% gain error on a 10 N m gravity load would read as a 3 cm-rad offset)
    scale = np.array([abs(i[0]) if abs(abs(i[0]) - 1.0) > GAIN_TOLERANCE else 1.0 for i in ids])
    grav = analyse_gravity(held * scale, q, model, signs, well_fit)
    out = []
    for j, name in enumerate(cfg):
        g_, lat, lag, r2 = ids[j]
        diffs = np.diff(rec["q"][r0:r1, to_cfg[j]])
        out.append(JointID(name, g_, lat, lag, r2, float(held[j]), float(grav["g_model"][j]),
                           grav["offset"].get(name, 0.0), float(np.std(diffs) / np.sqrt(2))))
    return out, grav


def _gravity(model, q):
    return model.dynamics(q, np.zeros(len(q)))[1]


def sign_hypotheses(held, q, model, ratio=0.5, min_residual=0.2) -> np.ndarray:
    """Joints whose sense is reversed: S g(S q) fits the holding torques much better than g(q)."""
    n = len(q)
    r_none = float(np.linalg.norm(held - _gravity(model, q)))
    signs = np.ones(n)
    if r_none > min_residual:
        for j in range(n):
            S = np.ones(n)
            S[j] = -1
            if np.linalg.norm(held - S * _gravity(model, S * q)) < ratio * r_none:
                signs[j] = -1
    return signs


def analyse_gravity(held, q, model, signs, usable, min_offset=0.015):
    """Encoder offsets d from held = S g(S q - d), linearised, by least squares over the joints whose
    gravity torque depends on them and whose torque gain was measured as nominal (a weak motor
    holds with more command and would read as an offset)."""
    names = model.robot.joint_names
    n = len(q)
    g0 = _gravity(model, q)
    qs = signs * q
    g1 = signs * _gravity(model, qs)
    eps = 1e-3
    G = np.column_stack([(signs * _gravity(model, qs + eps * np.eye(n)[j]) - g1) / eps for j in range(n)])
    # gravity must move a joint's holding torque by > 2 N m/rad for its offset to stand out of
    # static friction (0.05 N m is 2.5 cm-rad of apparent offset at 2 N m/rad)
    sens = (np.abs(np.diag(G)) > 2.0) & np.array([nm in usable for nm in names])
    offsets = {}
    if np.any(sens):
        d, *_ = np.linalg.lstsq(-G[:, sens], held - g1, rcond=None)
        for j, dj in zip(np.flatnonzero(sens), d):
            if abs(dj) > min_offset:
                offsets[names[j]] = float(signs[j] * dj)   # in the driver's (reported) sense
    return {"sign": {names[j]: -1 for j in range(n) if signs[j] < 0}, "offset": offsets, "g_model": g0,
            "observable_offsets": [names[j] for j in np.flatnonzero(sens)]}
