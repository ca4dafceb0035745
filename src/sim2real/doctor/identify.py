"""What the experiment's record says about each joint, against the nominal model.

- direction and encoder offset from the torque that holds the arm at rest against gravity
  (tau_rest = g(q_true); g from the nominal model at the reported pose),
- torque-to-acceleration gain, command-to-motion latency and actuator lag by fitting the pulse
  responses: dq(t) = gain / I * double-integral of lag_T(dtau(t - L)), I the model's inertia,
- sensor noise from the step-to-step differences at rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAGS_S = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04)
MAX_LATENCY_S = 0.04


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


GAINS = np.concatenate([-np.arange(2.0, 0.19, -0.02), np.arange(0.2, 2.01, 0.02)])


def _responses(dtau, dt, inertia, latency_steps, lag, friction, damping):
    """Position change (T, len(GAINS)) of a joint driven by gain * dtau(t - L) through a first-order
    lag, against the model's Coulomb friction and damping, from rest (semi-implicit Euler, as MuJoCo)."""
    u = np.concatenate([np.zeros(latency_steps), dtau])[: len(dtau)]
    if lag > 0:
        a = 1.0 - np.exp(-dt / lag)
        y = np.zeros_like(u)
        for i in range(1, len(u)):
            y[i] = y[i - 1] + a * (u[i - 1] - y[i - 1])
        u = y
    v = np.zeros(len(GAINS))
    x = np.zeros((len(u), len(GAINS)))
    for i in range(len(u) - 1):
        acc = (GAINS * u[i] - friction * np.tanh(v / 1e-3) - damping * v) / inertia
        v = v + dt * acc
        x[i + 1] = x[i] + dt * v
    return x


def identify_slot(rec, k, dt, inertia, friction=0.0, damping=0.0):
    """(gain, latency, lag, r2) for wire slot k from its two pulses (grid search)."""
    t, q, cmd = rec["t"], rec["q"][:, k], rec["cmd"][:, k]
    windows = []
    for slot, _, ts in rec["pulses"]:
        if slot != k:
            continue
        i0 = int(np.searchsorted(t, ts - 1e-9))
        i1 = int(np.searchsorted(t, ts + 0.2))
        if i1 - i0 < 20:
            continue
        base = cmd[max(0, i0 - 25):i0].mean() if i0 > 0 else cmd[i0]
        windows.append((cmd[i0:i1] - base, q[i0:i1] - q[i0]))
    if not windows:
        return float("nan"), float("nan"), float("nan"), 0.0
    ys = np.concatenate([dq for _, dq in windows])
    best = (np.inf, 1.0, 0.0, 0.0)
    for L in range(int(MAX_LATENCY_S / dt) + 1):
        for lag in LAGS_S:
            xs = np.concatenate([_responses(dtau, dt, inertia, L, lag, friction, damping) for dtau, _ in windows])
            err = np.sum((xs - ys[:, None]) ** 2, axis=0)
            i = int(np.argmin(err))
            if err[i] < best[0]:
                best = (float(err[i]), float(GAINS[i]), L * dt, lag)
    r2 = 1.0 - best[0] / max(float(np.sum((ys - ys.mean()) ** 2)), 1e-12)
    return best[1], best[2], best[3], r2


def identify(rec, order, robot, model) -> tuple[list[JointID], dict]:
    """Per wire slot, in the driver's order (`order` names the joint each slot reports), plus the
    gravity analysis: {"sign": {joint: -1}, "offset": {joint: rad}, "residual": N m}."""
    t = rec["t"]
    dt = float(np.median(np.diff(t)))
    r0, r1 = (int(np.searchsorted(t, x)) for x in rec["rest"])
    cfg = list(robot.joint_names)
    to_cfg = [order.index(n) for n in cfg]                     # config joint j sits in wire slot to_cfg[j]
    q = rec["q"][r0:r1].mean(axis=0)[to_cfg]                   # reported pose, config order
    M, _ = model.dynamics(q, np.zeros(len(cfg)))
    fr, damp = model.frictionloss, model.model.dof_damping[model.dadr]
    ids = [identify_slot(rec, to_cfg[j], dt, M[j, j], fr[j], damp[j]) for j in range(len(cfg))]
    gain = np.array([abs(i[0]) for i in ids])
    held = rec["cmd"][r0:r1].mean(axis=0)[to_cfg] * gain       # torque that actually held each joint
    grav = analyse_gravity(held, q, model)
    out = []
    for j, name in enumerate(cfg):
        g_, lat, lag, r2 = ids[j]
        diffs = np.diff(rec["q"][r0:r1, to_cfg[j]])
        out.append(JointID(name, g_, lat, lag, r2, float(held[j]), float(grav["g_model"][j]),
                           grav["offset"].get(name, 0.0), float(np.std(diffs) / np.sqrt(2))))
    return out, grav


def _gravity(model, q):
    return model.dynamics(q, np.zeros(len(q)))[1]


def analyse_gravity(held, q, model, sign_ratio=0.5, min_residual=0.2, min_offset=0.015):
    """Which joints' sense is flipped, and which encoders are offset, from the holding torques.

    A joint reported and commanded with the wrong sign shows as S g(S q) fitting the holding
    torques better than g(q) (S flips that joint); an offset d shows as held = g(q - d),
    linearised: held - g(q) = -dg/dq d, solved by least squares over the gravity-sensitive joints.
    """
    names = model.robot.joint_names
    n = len(q)
    g0 = _gravity(model, q)
    r_none = float(np.linalg.norm(held - g0))
    signs = np.ones(n)
    if r_none > min_residual:
        for j in range(n):
            S = np.ones(n)
            S[j] = -1
            if np.linalg.norm(held - S * _gravity(model, S * q)) < sign_ratio * r_none:
                signs[j] = -1
    qs = signs * q
    g1 = signs * _gravity(model, qs)
    eps = 1e-3
    G = np.column_stack([(signs * _gravity(model, qs + eps * np.eye(n)[j]) - g1) / eps for j in range(n)])
    sens = np.linalg.norm(G, axis=0) > 0.5          # joints gravity can tell an offset for
    offsets = {}
    if np.any(sens):
        d, *_ = np.linalg.lstsq(-G[:, sens], held - g1, rcond=None)
        for j, dj in zip(np.flatnonzero(sens), d):
            if abs(dj) > min_offset:
                offsets[names[j]] = float(dj)
    residual = float(np.linalg.norm(held - g1 + (G[:, sens] @ np.array([offsets.get(names[j], 0.0) for j in np.flatnonzero(sens)]) if np.any(sens) else 0)))
    return {"sign": {names[j]: -1 for j in range(n) if signs[j] < 0}, "offset": offsets,
            "g_model": g0, "residual_before": r_none, "residual_after": residual,
            "observable_offsets": [names[j] for j in np.flatnonzero(sens)]}
