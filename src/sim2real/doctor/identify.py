"""What the experiment's record says about each joint, against the nominal model.

- torque gain, round trip and actuator lag per joint: from the driver's torque sensing when it
  has one (doctor/timing.py: the torque each motor produced against what was commanded); else by
  replaying the recorded commands on the nominal model with candidate delays and lags and scaling
  its response to fit the measured motion (`fit_dynamics`),
- direction and encoder offset from the torque that holds the arm at rest against gravity, at
  every pose the experiment rested in (`analyse_gravity`): a joint gravity never loads, at any of
  them, is reported as one the doctor cannot tell,
- the relative sense of joints the arm's inertia couples strongly (`relative_senses`), from how
  each moved while the other was pulsed. Gravity cannot see what reflects the arm in its own
  vertical plane (every roll joint reversed at once: joint_1, joint_3, joint_5, joint_7 on the
  Jaco), and joint_1 (a vertical axis) and joint_7 (the hand) are invisible to it, so joint_3
  reversed holds exactly like joint_5 reversed; the coupling of joint_1 with joint_3 tells them
  apart (the fewest reversals then picks between the arm and its reflection),
- sensor noise from the step-to-step differences at rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.doctor import timing

LAGS_S = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03)
MAX_LATENCY_S = 0.1
WINDOW_S = 0.15          # s of response fitted after each pulse
FIT_R2 = 0.85            # a pulse's torque response fitting the loop this well is read
GAIN_TOLERANCE = 0.15    # |gain - 1| within this: the joint's holding torque can be trusted for offsets
SIGN_VISIBLE = 0.5       # N m: reversing a joint must change the gravity torques this much somewhere
OFFSET_VISIBLE = 2.0     # N m/rad: an offset must move the gravity torques this much to be measured
MAX_OFFSET = 0.15        # rad: offsets beyond are not believed (a reversed joint would fit as one)
OFFSET_TORQUE = 0.1      # N m: the holding torque an offset must account for to be reported
OFFSET_PRIOR = 1.0       # N m per rad: what an offset costs in the fit (an encoder off by 0.05 rad: 0.05 N m)
TIE = 1.25               # another explanation with as many reversals, within this factor of the misfit: a tie
SIGN_SLACK = 0.15        # N m of misfit a hypothesis with fewer reversals may have over the best
COUPLED = 0.45           # |Minv_jk| / sqrt(Minv_jj Minv_kk) at the start pose: pairs coupled this strongly
COUPLING_READ = 0.3      # the coupling read each way, in units of the model's: at least this, one sign
COUPLING_MOVED = 0.2     # each joint's response to its own torque, in units of the model's: at least this
COUPLING_V0 = 0.02       # rad/s: the Coulomb friction in the replay is smoothed over this speed
COUPLING_AFTER_S = 0.02  # s read after a pulse's torque has come back (pulse + the measured round trip)


@dataclass
class JointID:
    name: str
    gain: float                 # torque produced (or acceleration) per command, against the model's
    latency_s: float            # command -> motion, round trip (command + state transport)
    lag_s: float                # first-order actuator time constant
    fit_r2: float
    tau_rest: float             # N m holding torque at rest at the start pose (wire sense)
    g_model: float              # N m model gravity torque at the reported start pose
    offset: float               # rad estimated encoder offset (0 where none was found)
    noise: float                # rad position noise std
    latency_spread_s: float = 0.0   # max - min of the round trip over this joint's pulses
    probe_gain: float = float("nan")   # the same gain as the probe doublet measured it (nan: not read)
    pulses: int = 0             # pulses used (undisturbed)
    repeated: int = 0           # pulses repeated because their timing was disturbed


def _lagged(cmd: np.ndarray, dt: float, latency_steps: int, lag: float) -> np.ndarray:
    """(T, n) commands as the motors see them: delayed by whole steps, then first-order lag."""
    u = np.concatenate([np.repeat(cmd[:1], latency_steps, axis=0), cmd])[: len(cmd)]
    return timing.lag(u, lag, dt)


def _replay(sim, q0, cmd) -> np.ndarray:
    """Joint positions (T, n) of the nominal model driven open loop by cmd (T, n) from rest at q0."""
    sim.reset(q0)
    out = np.empty_like(cmd)
    for i in range(len(cmd)):
        out[i] = sim.joint_state()[0]
        sim.step(cmd[i])
    return out


def _pulses(rec) -> list[dict]:
    """The pulses to read: per (slot, sign) the undisturbed ones, or all when every try was."""
    out = []
    for key in sorted({(p["slot"], p["sign"]) for p in rec["pulses"]}):
        tries = [p for p in rec["pulses"] if (p["slot"], p["sign"]) == key]
        good = [p for p in tries if not p["disturbed"]]
        # every try disturbed: the one whose torque response fitted best
        out += good or [max(tries, key=lambda p: np.nan_to_num(p.get("r2", np.nan), nan=-np.inf))]
    return out


def fit_dynamics(rec, to_cfg, signs, sim, dt, gains=None):
    """Per joint (config order): (gain, latency s, lag s, r2), by replaying the recorded commands on
    the nominal model with each candidate latency and lag; the gain scales the model's response.
    For drivers without torque sensing."""
    t, q, cmd = rec["t"], rec["q"], rec["cmd"]
    n = len(to_cfg)
    windows = {j: [] for j in range(n)}
    for p in _pulses(rec):
        slot, ts = p["slot"], p["t"]
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


def fit_torque(rec, to_cfg) -> list[tuple]:
    """Per joint (config order): (gain, round trip s, lag s, r2, spread s, pulses used, repeated),
    from the torque the driver reports against the commands (doctor/timing.py), pulse by pulse:
    the medians over the pulses whose response fits (r2 >= FIT_R2) and ran while the driver kept
    its rate, whether or not their timing was flagged otherwise; r2 is the worst of those used (0
    when none qualifies: the figures then come from the pulse that fitted best, and say so)."""
    out = []
    for slot in to_cfg:
        tries = [p for p in rec["pulses"] if p["slot"] == slot and np.isfinite(p.get("r2", np.nan))]
        if not tries:
            out.append((np.nan, np.nan, np.nan, 0.0, np.nan, 0, 0))
            continue
        good = [p for p in tries if p["r2"] >= FIT_R2 and not p.get("slow")]
        use = good or [max(tries, key=lambda p: p["r2"])]
        med = {k: float(np.median([p[k] for p in use])) for k in ("gain", "delay_s", "lag_s")}
        spread = float(np.ptp([p["delay_s"] for p in use]))
        repeated = sum(1 for p in rec["pulses"] if p["slot"] == slot and p["repeat"] > 0)
        r2 = min(p["r2"] for p in use) if good else 0.0
        out.append((med["gain"], med["delay_s"], med["lag_s"], r2, spread, len(use), repeated))
    return out


def _rest(rec, t0, t1, to_cfg, gains):
    """(reported pose, holding torque), config order, over a rest window; the torque as the driver
    senses it, else the command times the measured gain."""
    t = rec["t"]
    sel = (t >= t0) & (t < t1)
    q = rec["q"][sel].mean(axis=0)[to_cfg]
    if rec["effort_seen"]:
        held = np.nanmean(rec["effort"][sel], axis=0)[to_cfg]
    else:
        held = rec["cmd"][sel].mean(axis=0)[to_cfg] * gains
    return q, held


def identify(rec, order, robot, model) -> tuple[list[JointID], dict]:
    """Per joint (config order; `order` names the joint each wire slot reports), plus the gravity
    analysis (analyse_gravity's dict)."""
    cfg = list(robot.joint_names)
    to_cfg = [order.index(n) for n in cfg]                     # config joint j sits in wire slot to_cfg[j]
    dt = rec["dt"]
    if rec["effort_seen"]:
        ids = fit_torque(rec, to_cfg)
    else:
        from sim2real.sim.simulator import Simulator
        sim = Simulator(robot)
        t0, t1, _ = rec["rests"][0]
        q, held = _rest(rec, t0, t1, to_cfg, np.ones(len(cfg)))
        signs = analyse_gravity([held], [q], model)["S"]
        ids = fit_dynamics(rec, to_cfg, signs, sim, dt)
        if any(abs(abs(i[0]) - 1.0) > GAIN_TOLERANCE for i in ids):
            # a weak joint moves its neighbours less too: fit again with the first estimates applied
            ids = fit_dynamics(rec, to_cfg, signs, sim, dt, np.array([abs(i[0]) for i in ids]))
        ids = [i + (np.nan, 0, 0) for i in ids]
    gains = np.array([abs(i[0]) if np.isfinite(i[0]) else 1.0 for i in ids])
    rests = [_rest(rec, t0, t1, to_cfg, gains) for t0, t1, _ in rec["rests"]]
    grav = analyse_gravity([h for _, h in rests], [q for q, _ in rests], model)
    # the pose the pulses ran at, in the model's sense as gravity reads it (a reversed shoulder
    # reports the arm on the other side): the inertia coupling its pairs there
    rel = relative_senses(rec, to_cfg, model, grav["S"] * rests[0][0])
    if rel:
        grav = analyse_gravity([h for _, h in rests], [q for q, _ in rests], model, relative=rel)
    t = rec["t"]
    r0, r1, _ = rec["rests"][0]
    at_rest = (t >= r0) & (t < r1)
    out = []
    for j, name in enumerate(cfg):
        g_, lat, lag, r2, spread, used, rep = ids[j]
        diffs = np.diff(rec["q"][at_rest, to_cfg[j]])
        pg = rec.get("probe_gain")
        probe = float(pg[to_cfg[j]]) if pg is not None and rec["probe_r2"][to_cfg[j]] >= FIT_R2 else np.nan
        out.append(JointID(name, g_, lat, lag, r2, float(rests[0][1][j]), float(grav["g_model"][j]),
                           grav["offset"].get(name, 0.0), float(np.std(diffs) / np.sqrt(2)),
                           latency_spread_s=spread, pulses=used, repeated=rep, probe_gain=probe))
    return out, grav


def relative_senses(rec, to_cfg, model, q_phys) -> dict:
    """{(j, k): S_j S_k} (config indices, j < k) for the pairs the arm's inertia couples strongly
    at the start pose, read from the pulses: over each pulse's window the change of every joint's
    velocity is M^-1 times the integral of the torques (sensed, all joints: the pulse and the
    holds' reactions alike) less damping and friction, and the senses enter it as S M^-1 S. Per
    pair, each joint's velocity is regressed on its own term and its partner's; the pair is read
    when both joints followed their own torques (COUPLING_MOVED) and both cross terms agree in
    sign, each at least COUPLING_READ of the model's. q_phys: the start pose (config order, the
    model's sense, as gravity reads it). Drivers without torque sensing: {}."""
    if not rec.get("effort_seen") or not rec["pulses"]:
        return {}
    n = len(to_cfg)
    Minv = np.linalg.inv(model.dynamics(np.asarray(q_phys, float), np.zeros(n))[0])
    diag = np.sqrt(np.abs(np.diag(Minv)))
    pairs = [(j, k) for j in range(n) for k in range(j + 1, n)
             if abs(Minv[j, k]) / (diag[j] * diag[k]) >= COUPLED]
    if not pairs:
        return {}
    damping = np.asarray(model.model.dof_damping[model.dadr], float)
    friction = np.asarray(model.frictionloss, float)
    t = rec["t"]
    q, qd, eff = rec["q"][:, to_cfg], rec["qd"][:, to_cfg], rec["effort"][:, to_cfg]
    after = (rec.get("delay_s") or 0.045) + COUPLING_AFTER_S
    impulse, dv = [], []
    for p in rec["pulses"]:
        if p["disturbed"]:
            continue
        ts = p["t"]
        pre = (t >= ts - 0.02) & (t < ts)
        win = (t >= ts) & (t < ts + p["width"] + after)
        if pre.sum() < 3 or win.sum() < 10:
            continue
        tw = t[win]
        a = (eff[win] - np.nanmean(eff[pre], axis=0) - damping * qd[win]
             - friction * np.tanh(qd[win] / COUPLING_V0))
        if not np.all(np.isfinite(a)):
            continue
        step = 0.5 * (a[1:] + a[:-1]) * np.diff(tw)[:, None]
        impulse.append(np.vstack([np.zeros(n), np.cumsum(step, axis=0)]))
        dv.append(qd[win] - qd[pre].mean(axis=0))
    if not impulse:
        return {}
    impulse, dv = np.vstack(impulse), np.vstack(dv)

    def read(r, o):
        """(own, cross): joint r's velocity on its own term and on joint o's, in model units."""
        X = np.column_stack([Minv[r, r] * impulse[:, r], Minv[r, o] * impulse[:, o]])
        (own, cross), *_ = np.linalg.lstsq(X, dv[:, r], rcond=None)
        return own, cross
    out = {}
    for j, k in pairs:
        (own_j, c_jk), (own_k, c_kj) = read(j, k), read(k, j)
        if (min(own_j, own_k) >= COUPLING_MOVED and np.sign(c_jk) == np.sign(c_kj)
                and min(abs(c_jk), abs(c_kj)) >= COUPLING_READ):
            out[(j, k)] = float(np.sign(c_jk))
    return out


def _gravity(model, q):
    return model.dynamics(q, np.zeros(len(q)))[1]


def _predict(model, S, d, q):
    """The holding torque a driver with senses S and offsets d reports at reported pose q."""
    return S * _gravity(model, S * (q - d))


def analyse_gravity(held: list, poses: list, model, min_offset: float = 0.015,
                    relative: dict | None = None) -> dict:
    """Senses S and encoder offsets d (reported sense) from held_p = S g(S (q_p - d)) at every rest
    pose p: offsets by Gauss-Newton for each sense hypothesis, over every hypothesis the poses can
    tell apart. "candidates": the hypotheses that fit about as well as the one chosen (at one pose
    an arm and its mirror image hold with the same torques). relative: {(j, k): S_j S_k} read
    otherwise (relative_senses): only hypotheses that agree with it are weighed (unless none
    does), and a joint gravity cannot see but paired with one it can becomes observable. Returns
    {"S", "sign": {joint: -1}, "offset": {joint: rad}, "g_model", "observable_offsets",
    "observable_signs", "residual", "coupled": {joint: partner}}."""
    names = model.robot.joint_names
    n = len(names)
    held = [np.asarray(h, float) for h in held]
    poses = [np.asarray(q, float) for q in poses]
    ones, eps = np.ones(n), 1e-3
    base = [_predict(model, ones, np.zeros(n), q) for q in poses]
    # which joints the poses can tell anything about
    vis_sign = np.zeros(n, bool)
    col = np.zeros(n)
    for q, b in zip(poses, base):
        for j in range(n):
            S = ones.copy()
            S[j] = -1
            vis_sign[j] |= np.max(np.abs(_predict(model, S, np.zeros(n), q) - b)) > SIGN_VISIBLE
            d = np.zeros(n)
            d[j] = eps
            col[j] += float(np.sum(((_predict(model, ones, d, q) - b) / eps) ** 2))
    vis_off = np.sqrt(col) > OFFSET_VISIBLE

    def fit(S):
        """Offsets for senses S by Gauss-Newton, with a prior: an offset costs OFFSET_PRIOR N m per
        rad of misfit, so that a large offset cannot stand in for a reversed joint."""
        d = np.zeros(n)
        obs = np.flatnonzero(vis_off)
        for _ in range(3):
            r = np.concatenate([h - _predict(model, S, d, q) for h, q in zip(held, poses)])
            if not len(obs):
                break
            J = np.column_stack([np.concatenate([(_predict(model, S, d + eps * np.eye(n)[j], q)
                                                  - _predict(model, S, d, q)) / eps for q in poses])
                                 for j in obs])
            A = np.vstack([J, OFFSET_PRIOR * np.eye(len(obs))])
            b = np.concatenate([r, -OFFSET_PRIOR * d[obs]])
            step, *_ = np.linalg.lstsq(A, b, rcond=None)
            d[obs] = np.clip(d[obs] + step, -MAX_OFFSET, MAX_OFFSET)
        r = np.concatenate([h - _predict(model, S, d, q) for h, q in zip(held, poses)])
        return d, float(np.sqrt(r @ r + (OFFSET_PRIOR ** 2) * (d @ d)))

    # every combination of senses the poses can see (2^6 at most on a 7-joint arm), the fewest
    # reversals among those that fit about as well as the best (friction leaves ~0.1 N m of misfit)
    import itertools
    relative = dict(relative or {})
    # a joint gravity cannot see, coupled to one it can: its sense follows its partner's
    coupled = {}
    for (j, k) in relative:
        for a, b in ((j, k), (k, j)):
            if not vis_sign[a] and vis_sign[b]:
                coupled[a] = b
    cands = np.flatnonzero(vis_sign | np.isin(np.arange(n), list(coupled)))
    fits, memo = [], {}
    for r in range(len(cands) + 1):
        for flip in itertools.combinations(cands, r):
            S = ones.copy()
            S[list(flip)] = -1
            key = tuple(S * vis_sign + ~vis_sign)        # gravity's fit ignores what it cannot see
            if key not in memo:
                memo[key] = fit(np.array(key, float))
            d, res = memo[key]
            fits.append((res, r, S, d))
    agree = [f for f in fits if all(f[2][j] * f[2][k] == s for (j, k), s in relative.items())]
    if agree:
        fits = agree
    else:
        coupled = {}
    best = min(f[0] for f in fits)
    near = [f for f in fits if f[0] <= max(1.5 * best, best + SIGN_SLACK)]
    res, _, S, d = min(near, key=lambda f: (f[1], f[0]))
    # an offset must also explain more holding torque than static friction leaves unexplained
    sens = np.sqrt(col)
    offsets = {names[j]: float(d[j]) for j in np.flatnonzero(vis_off)
               if abs(d[j]) > min_offset and abs(d[j]) * sens[j] > OFFSET_TORQUE}
    ties = [f for f in near if f[1] == int(np.sum(S < 0)) and not np.array_equal(f[2], S) and f[0] <= TIE * res]
    others = sorted((f for f in near if not np.array_equal(f[2], S)), key=lambda f: f[0])
    return {"S": S, "candidates": [f[2] for f in near],
            "fits": sorted((round(f[0], 4), [names[j] for j in np.flatnonzero(f[2] < 0)]) for f in fits)[:6],
            "tied": [names[j] for j in range(n) if any(f[2][j] != S[j] for f in ties)],
            "alternative": ([names[j] for j in range(n) if others[0][2][j] < 0] if others else None),
            # every explanation about as good (the mirror image; with the coupling read, the arm's
            # reflection in its vertical plane as well): up to three, best first
            "alternatives": [[names[j] for j in range(n) if f[2][j] < 0] for f in others[:3]],
            "sign": {names[j]: -1 for j in range(n) if S[j] < 0}, "offset": offsets,
            "g_model": _gravity(model, poses[0]), "residual": res,
            "observable_offsets": [names[j] for j in np.flatnonzero(vis_off)],
            "observable_signs": [names[j] for j in range(n) if vis_sign[j] or j in coupled],
            "coupled": {names[a]: names[b] for a, b in coupled.items()}}
