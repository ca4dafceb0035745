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


def run_episode(robot, profile, mode: Mode, traj: Trajectory, kin: NominalModel) -> Episode:
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

    run_lockstep(twin, controller, traj.duration, payload_events=traj.payload_events, on_step=on_step)
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
    armature) with the motor strength divided out. Latency, lag and noise it cannot undo."""
    name = "oracle"

    def __init__(self, robot, reality, payload_at: Callable[[float], float]):
        self.model = NominalModel(robot, reality)
        self.law = ComputedTorque(self.model)
        self.strength = reality.resolve(robot).motor_strength
        self.payload_at, self._payload = payload_at, None

    def command(self, t, q, qd, d: Desired, effort=None) -> np.ndarray:
        m = self.payload_at(t)
        if m != self._payload:
            self.model.set_payload_mass(m)
            self._payload = m
        tau = self.law.torque(q, qd, d.q, d.qd, d.qdd) / self.strength
        return np.clip(tau, -self.law.limit, self.law.limit)


def gap_closed(base: float, oracle: float, mode: float) -> float:
    """Fraction of the baseline-to-oracle error gap a mode closes (1 = as good as the oracle)."""
    gap = base - oracle
    return float("nan") if gap <= 1e-12 else (base - mode) / gap


ORACLE = "oracle"     # computed torque on the true profile: the bound the others are scored against
_TORQUE_MODES = tuple(m for m, spec in REGISTRY.items() if spec.actuation == "effort")   # the benchmark's arm
BENCH_MODES = (BASELINE, ORACLE, *(m for m in _TORQUE_MODES if m != BASELINE))
ADAPTIVE = tuple(m for m in _TORQUE_MODES if m != BASELINE)


def trajectories(robot, kin: NominalModel, seed: int = 0) -> list[Trajectory]:
    from sim2real.control.trajectories import joint_sines, payload_hold, reach_moves
    return [reach_moves(kin, seed), joint_sines(robot, seed), payload_hold(kin)]


def run_benchmark(robot, profile, modes, checkpoints: dict, seed: int = 0, log=print) -> list[Episode]:
    from sim2real.control.modes import make_mode
    kin = NominalModel(robot)
    episodes = []
    for name in modes:
        for traj in trajectories(robot, kin, seed):
            mode = (OracleMode(robot, profile, payload_schedule(profile, traj)) if name == ORACLE
                    else make_mode(name, robot, checkpoints.get(name)))
            ep = run_episode(robot, profile, mode, traj, kin)
            episodes.append(ep)
            log(f"  {name:16s} {traj.name:8s} {ep.joint_rms * 1e3:8.2f} mrad")
    return episodes


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
        rcs = "-" if not rc else ("never" if not np.isfinite(rc[0]) else f"{rc[0]:.3f} s")
        out.append(f"{m:18s}" + "".join(f"{by[(m, t)].joint_rms * 1e3:11.2f} /{by[(m, t)].ee_rms * 100:6.2f}" for t in trajs)
                   + f"{mean[m] * 1e3:9.2f}{rcs:>12s}{np.median(comp):9.3f} /{np.percentile(comp, 99):6.3f}")
    if BASELINE in mean and ORACLE in mean:
        base, orc = mean[BASELINE], mean[ORACLE]
        out.append(f"gap between the nominal baseline and the oracle (mean joint RMS): {base * 1e3:.2f} -> {orc * 1e3:.2f} mrad")
        for m in modes:
            if m in ADAPTIVE:
                per = [gap_closed(by[(BASELINE, t)].joint_rms, by[(ORACLE, t)].joint_rms, by[(m, t)].joint_rms)
                       for t in trajs]
                out.append(f"  {m:16s} closes {100 * gap_closed(base, orc, mean[m]):6.1f}% of it "
                           f"(per trajectory: {', '.join(f'{t} {100 * g:.0f}%' for t, g in zip(trajs, per))})")
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
