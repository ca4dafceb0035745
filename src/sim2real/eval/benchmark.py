"""`sim2real bench controller`: the same desired trajectories on the twin for every mode,
against the nominal baseline and an oracle that knows the true profile.

Runs each mode on the lockstep twin (sim/twin.py) and measures, against the *true*
joint state (not the noisy measurement): joint tracking RMS error, end-effector error, time to
re-converge after the payload appears, and the controller's compute time per step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.modes import BASELINE, REGISTRY, Mode
from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired
from sim2real.control.trajectories import Trajectory
from sim2real.sim.twin import Twin, run_lockstep

SKIP_S = 0.3          # start-up (first commands in flight) is not scored
RECONVERGE_TOL = 2e-3  # rad of joint error norm above the pre-payload level that counts as converged
RECONVERGE_HOLD = 0.1  # s it must stay within that


@dataclass
class Episode:
    mode: str
    traj: str
    t: np.ndarray           # (T,) s
    err: np.ndarray         # (T, n) rad, true q - desired q
    ee_err: np.ndarray      # (T,) m
    compute_s: np.ndarray   # (K,) s per controller call
    payload_t: float | None
    status: list[str] = field(default_factory=list)
    latency_s: float | None = None     # the delay the mode was given (adaptive modes)
    guard_trips: int = 0               # times the guard handed control to the baseline
    baseline_share: float = 0.0        # share of states on which the baseline drove (in part)
    guard_events: list = field(default_factory=list)

    def scored(self) -> np.ndarray:
        return self.t >= SKIP_S

    @property
    def joint_rms(self) -> float:
        return float(np.sqrt(np.mean(self.err[self.scored()] ** 2)))

    @property
    def ee_rms(self) -> float:
        return float(np.sqrt(np.mean(self.ee_err[self.scored()] ** 2)))

    def reconverge_s(self) -> float:
        """Seconds after the payload change until the error norm is back within RECONVERGE_TOL of
        its level before (median of the 0.5 s before) and stays there RECONVERGE_HOLD; inf if never."""
        if self.payload_t is None:
            return float("nan")
        e = np.linalg.norm(self.err, axis=1)
        before = e[(self.t >= self.payload_t - 0.5) & (self.t < self.payload_t)]
        level = float(np.median(before)) + RECONVERGE_TOL
        after = self.t >= self.payload_t
        ok = (e <= level) & after
        hold = int(round(RECONVERGE_HOLD / (self.t[1] - self.t[0])))
        idx = np.flatnonzero(after)
        for i in idx:
            if ok[i:i + hold].all() and i + hold <= len(e):
                return float(self.t[i] - self.payload_t)
        return float("inf")


def run_episode(robot, profile, mode: Mode, traj: Trajectory, kin: NominalModel,
                loop_delay_s: float = 0.0) -> Episode:
    """One mode on one trajectory; the safety filter's over-speed damper set for loop_delay_s
    (as `sim2real up --corrections` sets the graph's)."""
    from sim2real.safety.filter import SafetyFilter
    twin = Twin(robot, profile)
    ts, errs, ee, comp, status = [], [], [], [], []

    def controller(stamp, q, qd, effort):
        t0 = time.perf_counter()
        tau = mode.command(stamp, q, qd, traj.sample(stamp), effort)
        comp.append(time.perf_counter() - t0)
        if mode.status != "ok" and (not status or status[-1] != mode.status):
            status.append(f"{stamp:.2f}s {mode.status}")
        return tau

    def on_step(t, q, qd, cmd):
        d = traj.sample(t)
        ts.append(t)
        errs.append(q - d.q)
        ee.append(np.linalg.norm(kin.ee_position(q) - kin.ee_position(d.q)))

    run_lockstep(twin, controller, traj.duration, payload_events=traj.payload_events, on_step=on_step,
                 safety=SafetyFilter(robot, loop_delay_s=loop_delay_s))
    pt = traj.payload_events[0][0] if traj.payload_events else None
    return Episode(mode.name, traj.name, np.array(ts), np.array(errs), np.array(ee), np.array(comp), pt, status)


def payload_schedule(profile, traj: Trajectory) -> Callable[[float], float]:
    """What the oracle is told: the payload mass in effect at time t (profile, then the episode)."""
    d = profile.section("dynamics")
    ev = [(0.0, float(d.get("payload", {}).get("mass", 0.0)))]
    ev += [(float(e["t"]), float(e["mass"])) for e in d.get("payload_schedule", [])]
    ev += list(traj.payload_events)
    ev.sort()

    def at(t: float) -> float:
        m = 0.0
        for te, me in ev:
            if te <= t + 1e-9:
                m = me
        return m
    return at


class OracleMode(Mode):
    """Computed torque on the *true* dynamics (masses, payload as it changes, friction, damping,
    armature) with the motor strength divided out, and the true delay undone: the measured state
    is run forward on the true model over the state and command transport latency (a lockstep
    twin answers a state at the first step after it arrives; the command acts from the first step
    after its transport), with the actuator lag the profile gives applied to the commands already
    on their way; the command is computed for that state and the desired state of that time, and
    the first-order lag is inverted so that the motors produce it in their first step. Noise,
    drops and jitter it cannot undo."""
    name = "oracle"
    V_EPS = 0.02

    def __init__(self, robot, reality, payload_at: Callable[[float], float]):
        self.model = NominalModel(robot, reality)
        self.law = ComputedTorque(self.model)
        res = reality.resolve(robot)
        self.strength = res.motor_strength
        dt = self.dt = robot.dt
        lag = np.asarray(res.actuator_lag, float) * np.ones(robot.n)
        self.alpha = np.where(lag > 0, 1.0 - np.exp(-dt / np.maximum(lag, 1e-12)), 1.0)
        self.wait_state = int(np.ceil(res.latency_state / dt - 1e-9))     # steps until the state arrives
        self.wait_cmd = int(np.ceil(res.latency_command / dt - 1e-9))     # steps until the command acts
        self.fric = self.model.frictionloss
        self.payload_at, self._payload = payload_at, None
        self._sent: list[tuple[float, np.ndarray]] = []   # (first step it acts, command) oldest first
        self._tau = None          # actuator output during the last step (command units)

    def _set_payload(self, t: float) -> None:
        m = self.payload_at(t)
        if m != self._payload:
            self.model.set_payload_mass(m)
            self._payload = m

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        dt, lim = self.dt, self.law.limit
        t_act = t + (self.wait_state + self.wait_cmd) * dt
        # the actuator output during the step before the measurement: the measured torque
        if effort is not None and np.all(np.isfinite(effort)):
            tau = np.asarray(effort, float) / self.strength
        else:
            tau = self._tau if self._tau is not None else np.zeros_like(q)
        cmds = [c for c in self._sent if c[0] <= t_act + 1e-9]
        applied, i = tau, 0
        while i < len(cmds) and cmds[i][0] <= t + 1e-9:
            applied = cmds[i][1]
            i += 1
        q, qd = np.array(q, float), np.array(qd, float)
        steps = int(round((t_act - t) / dt))
        for k in range(steps):          # the true model, semi-implicit Euler as MuJoCo steps
            tk = t + k * dt
            while i < len(cmds) and cmds[i][0] <= tk + 1e-9:
                applied = cmds[i][1]
                i += 1
            tau = tau + self.alpha * (applied - tau)
            self._set_payload(tk)
            M, h = self.model.dynamics(q, qd)
            qdd = np.linalg.solve(M, self.strength * tau - h - self.fric * np.tanh(qd / self.V_EPS))
            qd = qd + dt * qdd
            q = q + dt * qd
        while i < len(cmds) and cmds[i][0] <= t_act + 1e-9:   # what the motors hold before this one
            applied = cmds[i][1]
            i += 1
        self._set_payload(t_act)
        lead = t_act - t
        if lead > 0:
            a = d.acc()
            d = Desired(d.q + d.qd * lead + 0.5 * a * lead * lead, d.qd + a * lead, d.qdd)
        want = self.law.torque(q, qd, d.q, d.qd, d.qdd) / self.strength
        # the first-order lag, inverted only in part: a full inversion multiplies measurement noise
        # by 1 / alpha (x10 at 20 ms of lag) and did worse than the baseline on a noisy profile
        cmd = np.clip(tau + (want - tau) / np.sqrt(self.alpha), -lim, lim)
        held = [j for j, c in enumerate(self._sent) if c[0] <= t + 1e-9]    # keep what the motors hold at t
        self._sent = self._sent[held[-1] if held else 0:][-64:] + [(t_act, cmd)]
        self._tau = tau
        return cmd


def measure_loop(robot, profile, seconds: float = 1.0, seed: int = 0) -> tuple[float, float]:
    """(delay s, first-order lag s) of the loop as a probe on the robot measures them (never read
    from the profile): hold home on the baseline with a small square wave of torque added, then
    fit the measured joint torques to the commands sent. delay: state transport (a state's stamp
    to the step it is answered) + the command-to-torque delay; lag: the first-order lag that,
    with it, explains the measured torques best."""
    from sim2real.control.modes import make_mode
    twin = Twin(robot, profile)
    base = make_mode(BASELINE, robot)
    home = robot.home
    rng = np.random.default_rng(seed)
    amp = 0.08 * robot.effort_limit * np.where(rng.random(robot.n) < 0.5, -1.0, 1.0)
    period = 0.06
    sent, meas, waits = {}, {}, []

    def controller(stamp, q, qd, effort):
        k = int(np.floor(stamp / period))
        u = base.command(stamp, q, qd, Desired(home, np.zeros(robot.n)), effort)
        u = np.clip(u + (amp if k % 2 else -amp) * (stamp > 0.2), -robot.effort_limit, robot.effort_limit)
        return u

    def on_message(kind, t, values):
        if kind == "state":
            stamp, _, _, effort = values
            meas[int(round(stamp / robot.dt))] = np.asarray(effort, float)
            waits.append(t - stamp)
        else:
            sent[int(round(t / robot.dt))] = np.asarray(values, float)

    run_lockstep(twin, controller, seconds, on_message=on_message)
    T = int(round(seconds / robot.dt))
    cmd = np.zeros((T, robot.n))
    last = np.zeros(robot.n)
    for i in range(T):                       # what was last sent by each step (a dropped state sends nothing)
        last = sent.get(i, last)
        cmd[i] = last
    idx = np.array(sorted(k for k in meas if int(0.25 / robot.dt) <= k < T))
    if len(idx) < 50 or not np.all(np.isfinite([meas[k] for k in idx])):
        return (float(np.mean(waits)) if waits else 0.0), 0.0
    eff = np.array([meas[k] for k in idx])
    best, best_L, best_lag = np.inf, 0.0, 0.0
    for lag in (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04):
        a = 1.0 if lag == 0 else 1.0 - np.exp(-robot.dt / lag)
        filt = np.empty_like(cmd)
        y = cmd[0].copy()
        for i in range(T):
            y += a * (cmd[i] - y)
            filt[i] = y
        for D in range(0, 40):          # command sent at step i acts from step i + D
            src = idx - 1 - D           # the measured effort at stamp k is the torque of step k - 1
            if src.min() < 0:
                break
            p = filt[src]
            g = np.sum(p * eff, 0) / np.maximum(np.sum(p * p, 0), 1e-12)
            r = float(np.sum((eff - g * p) ** 2))
            if r < best:
                best, best_L, best_lag = r, D * robot.dt, lag
    return float(np.mean(waits)) + best_L, best_lag


def gap_closed(base: float, oracle: float, mode: float) -> float | None:
    """Fraction of the baseline-to-oracle error gap a mode closes (1 = as good as the oracle);
    None where there is no gap (the oracle no better than the baseline: infeasible, see feasible())."""
    gap = base - oracle
    return None if gap <= 1e-12 else (base - mode) / gap


WITHIN = 1.25          # an adaptive mode must stay within this factor of the baseline's RMS
MIN_GAP = 0.1          # the oracle must beat the baseline by this share for a gap to be scored


def feasible(base: float, oracle: float) -> bool:
    """Is there anything to close? Where even the oracle, which knows the profile, is not clearly
    better than the nominal baseline (by MIN_GAP of its error), the trajectory is infeasible for
    that reality: no share is scored (a gap of a few percent made shares of -400% out of noise)."""
    return oracle < (1.0 - MIN_GAP) * base


ORACLE = "oracle"     # computed torque on the true profile: the bound the others are scored against
_TORQUE_MODES = tuple(m for m, spec in REGISTRY.items() if spec.actuation == "effort")   # the benchmark's arm
BENCH_MODES = (BASELINE, ORACLE, *(m for m in _TORQUE_MODES if m != BASELINE))
ADAPTIVE = tuple(m for m in _TORQUE_MODES if m != BASELINE)


def trajectories(robot, kin: NominalModel, seed: int = 0) -> list[Trajectory]:
    from sim2real.control.trajectories import joint_sines, payload_hold, reach_moves
    return [reach_moves(kin, seed), joint_sines(robot, seed), payload_hold(kin)]


def run_benchmark(robot, profile, modes, checkpoints: dict, seed: int = 0, log=print,
                  latency_s: float | None = None, guard: bool = True, lag_aware: bool = True) -> list[Episode]:
    """Every mode on every trajectory. The adaptive modes get the loop's delay and actuator lag as
    a probe measures them on the twin (measure_loop; latency_s overrides, lag then counted in it),
    as `sim2real up --corrections` gives them the doctor's measurement; lag_aware=False folds the
    lag into the delay (the predictor before it knew the lag apart). They run under their guard
    unless guard=False."""
    from sim2real.control.modes import make_mode
    kin = NominalModel(robot)
    lag_s = 0.0
    if latency_s is None:
        latency_s, lag_s = measure_loop(robot, profile, seed=seed)
        if not lag_aware:
            latency_s, lag_s = latency_s + lag_s, 0.0
        log(f"  loop measured by a probe on the twin: {latency_s * 1e3:.1f} ms delay + {lag_s * 1e3:.1f} ms "
            f"actuator lag (given to the adaptive modes, and to every mode's safety filter)")
    loop = latency_s + lag_s
    episodes = []
    for name in modes:
        for traj in trajectories(robot, kin, seed):
            if name == ORACLE:
                mode = OracleMode(robot, profile, payload_schedule(profile, traj))
            elif name in ADAPTIVE:
                mode = make_mode(name, robot, checkpoints.get(name), latency_s=latency_s or 0.0, lag_s=lag_s,
                                 guard=guard)
            else:
                mode = make_mode(name, robot, checkpoints.get(name))
            ep = run_episode(robot, profile, mode, traj, kin, loop_delay_s=loop)
            ep.latency_s = latency_s if name in ADAPTIVE else None
            ep.guard_trips = getattr(mode, "trips", 0) if name in ADAPTIVE else 0
            ep.baseline_share = (getattr(mode, "baseline_steps", 0) / max(getattr(mode, "steps", 0), 1)
                                 if name in ADAPTIVE else 0.0)
            ep.guard_events = list(getattr(mode, "events", [])) if name in ADAPTIVE else []
            episodes.append(ep)
            g = (f"  guard: {ep.guard_trips} trip(s), baseline drove {100 * ep.baseline_share:.0f}%"
                 if ep.guard_trips else "")
            log(f"  {name:16s} {traj.name:8s} {ep.joint_rms * 1e3:8.2f} mrad{g}")
    return episodes


def figures(episodes: list[Episode], profile_name: str) -> dict:
    """The benchmark's figures as one JSON-ready dict: per mode and trajectory joint / end-effector
    RMS, ratio to the baseline, share of the gap closed (null where infeasible), re-convergence,
    compute time, guard trips; per trajectory whether it is feasible; per mode the summary."""
    modes = list(dict.fromkeys(e.mode for e in episodes))
    trajs = list(dict.fromkeys(e.traj for e in episodes))
    by = {(e.mode, e.traj): e for e in episodes}
    fin = lambda v: None if v is None or not np.isfinite(v) else float(v)   # noqa: E731
    out = {"profile": profile_name, "trajectories": {}, "modes": {}}
    have_ref = all((BASELINE, t) in by and (ORACLE, t) in by for t in trajs)
    for t in trajs:
        row = {}
        if have_ref:
            b, o = by[(BASELINE, t)].joint_rms, by[(ORACLE, t)].joint_rms
            row = {"feasible": feasible(b, o), "baseline_joint_rms_rad": b, "oracle_joint_rms_rad": o}
        out["trajectories"][t] = row
    for m in modes:
        per = {}
        for t in trajs:
            e = by.get((m, t))
            if e is None:
                continue
            comp = e.compute_s * 1e3
            r = {"joint_rms_rad": e.joint_rms, "ee_rms_m": e.ee_rms,
                 "step_ms_p50": float(np.median(comp)) if len(comp) else None,
                 "step_ms_p99": float(np.percentile(comp, 99)) if len(comp) else None,
                 "reconverge_s": fin(e.reconverge_s()) if e.payload_t is not None else None,
                 "status": e.status[-5:]}
            if m in ADAPTIVE:
                r.update(latency_s=e.latency_s, guard_trips=e.guard_trips, baseline_share=e.baseline_share,
                         guard_events=[f"{te:.3f}s {w}" for te, w in e.guard_events[:10]])
            if (BASELINE, t) in by:
                r["ratio_to_baseline"] = e.joint_rms / max(by[(BASELINE, t)].joint_rms, 1e-12)
            if have_ref and m in ADAPTIVE:
                b, o = by[(BASELINE, t)].joint_rms, by[(ORACLE, t)].joint_rms
                r["gap_closed"] = gap_closed(b, o, e.joint_rms) if feasible(b, o) else None
            per[t] = r
        summ = {"mean_joint_rms_rad": float(np.mean([p["joint_rms_rad"] for p in per.values()]))}
        if m in ADAPTIVE and (BASELINE, trajs[0]) in by:
            ratios = [p["ratio_to_baseline"] for p in per.values() if "ratio_to_baseline" in p]
            summ["worst_ratio_to_baseline"] = max(ratios) if ratios else None
            summ[f"within_{WITHIN}x_baseline"] = bool(ratios) and max(ratios) <= WITHIN
            gaps = [p["gap_closed"] for p in per.values() if p.get("gap_closed") is not None]
            summ["gap_closed_feasible_mean"] = float(np.mean(gaps)) if gaps else None
            summ["gap_closed_feasible_min"] = float(np.min(gaps)) if gaps else None
        out["modes"][m] = {"trajectories": per, "summary": summ}
    return out


def summary_lines(episodes: list[Episode], profile_name: str) -> list[str]:
    modes = list(dict.fromkeys(e.mode for e in episodes))
    trajs = list(dict.fromkeys(e.traj for e in episodes))
    by = {(e.mode, e.traj): e for e in episodes}
    out = [f"profile {profile_name}: joint RMS error [mrad] / end-effector RMS error [cm] per trajectory",
           f"{'mode':18s}" + "".join(f"{t:>20s}" for t in trajs) + f"{'mean':>9s}{'reconverge':>12s}{'step ms p50/p99':>18s}"]
    mean = {}
    for m in modes:
        eps = [by[(m, t)] for t in trajs if (m, t) in by]
        mean[m] = float(np.mean([e.joint_rms for e in eps]))
        comp = np.concatenate([e.compute_s for e in eps]) * 1e3
        rc = [e.reconverge_s() for e in eps if e.payload_t is not None]
        rcs = ("-" if not rc else "never" if not np.isfinite(rc[0])
               else "no rise" if rc[0] < 1e-9 else f"{rc[0]:.3f} s")   # no rise: the error never left its band
        out.append(f"{m:18s}" + "".join(f"{by[(m, t)].joint_rms * 1e3:11.2f} /{by[(m, t)].ee_rms * 100:6.2f}" for t in trajs)
                   + f"{mean[m] * 1e3:9.2f}{rcs:>12s}{np.median(comp):9.3f} /{np.percentile(comp, 99):6.3f}")
    if BASELINE not in mean or ORACLE not in mean:
        return out
    ok = {t: feasible(by[(BASELINE, t)].joint_rms, by[(ORACLE, t)].joint_rms) for t in trajs}
    bad = [t for t in trajs if not ok[t]]
    if bad:
        out.append(f"infeasible for this reality (even the oracle not {100 * MIN_GAP:.0f}% better than the baseline): "
                   f"{', '.join(bad)}; "
                   "no gap scored there, only the ratio to the baseline")
    good = [t for t in trajs if ok[t]]
    if good:
        base = float(np.mean([by[(BASELINE, t)].joint_rms for t in good]))
        orc = float(np.mean([by[(ORACLE, t)].joint_rms for t in good]))
        out.append(f"gap between the nominal baseline and the oracle (mean joint RMS over the feasible "
                   f"trajectories): {base * 1e3:.2f} -> {orc * 1e3:.2f} mrad")
    for m in modes:
        if m not in ADAPTIVE:
            continue
        parts, worst = [], 0.0
        for t in trajs:
            ratio = by[(m, t)].joint_rms / max(by[(BASELINE, t)].joint_rms, 1e-12)
            worst = max(worst, ratio)
            if ok[t]:
                g = gap_closed(by[(BASELINE, t)].joint_rms, by[(ORACLE, t)].joint_rms, by[(m, t)].joint_rms)
                parts.append(f"{t} {100 * g:.0f}%")
            else:
                parts.append(f"{t} infeasible ({ratio:.2f}x baseline)")
        e_trips = sum(by[(m, t)].guard_trips for t in trajs)
        if good:
            gm = float(np.mean([by[(m, t)].joint_rms for t in good]))
            head = f"closes {100 * gap_closed(base, orc, gm) if orc < base else 0.0:6.1f}% of it"
        else:
            head = "no feasible trajectory"
        out.append(f"  {m:16s} {head} (per trajectory: {', '.join(parts)}); worst {worst:.2f}x the baseline"
                   f"{'' if worst <= WITHIN else f' (over {WITHIN}x)'}; guard trips {e_trips}")
    return out


def plot(episodes: list[Episode], path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    trajs = list(dict.fromkeys(e.traj for e in episodes))
    fig, axes = plt.subplots(len(trajs), 1, figsize=(10, 3.2 * len(trajs)), squeeze=False)
    for ax, t in zip(axes[:, 0], trajs):
        for e in episodes:
            if e.traj == t:
                ax.semilogy(e.t, np.maximum(np.linalg.norm(e.err, axis=1) * 1e3, 1e-2), lw=0.8, label=e.mode)
                if e.payload_t is not None:
                    ax.axvline(e.payload_t, color="k", ls="--", lw=0.8)
        ax.set_title(f"{t}" + (" (payload appears at the dashed line)" if t == "payload" else ""))
        ax.set_ylabel("|q - q_desired| [mrad]")
        ax.grid(True, which="both", alpha=0.3)
    axes[-1, 0].set_xlabel("time [s]")
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
