"""Desired joint trajectories: the minimum-jerk move (the reach policy's too), and the families
the controller benchmark and the training-data collection run.

Three families (issue 3): reaching moves between IK poses (minimum jerk at 80% of the velocity
limits), fast sinusoids on every joint at once (each joint its own frequency), and a hold with a
payload that appears mid-episode. `excitation` mixes reaches and multi-sines with another seed
for recording training data, so the benchmark never scores a controller on its training moves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired
from sim2real.tasks.reach import ReachTask


class MinimumJerk:
    """q(t) = q0 + (q1 - q0) s(t/T), s = 10 u^3 - 15 u^4 + 6 u^5 (Flash & Hogan 1985)."""

    def __init__(self, q0: np.ndarray, q1: np.ndarray, t0: float, duration: float):
        self.q0, self.dq, self.t0, self.T = np.asarray(q0, float), np.asarray(q1, float) - q0, t0, duration

    @classmethod
    def at_speed(cls, q0, q1, t0: float, vmax: np.ndarray, min_duration: float = 0.5) -> "MinimumJerk":
        """The move whose fastest joint peaks at its vmax (rad/s): the peak speed of a
        minimum-jerk move is 1.875 |q1 - q0| / T."""
        T = max(min_duration, float(np.max(1.875 * np.abs(np.asarray(q1) - q0) / vmax)))
        return cls(q0, q1, t0, T)

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, qd, qdd) at time t; holds the end point after T."""
        u = np.clip((t - self.t0) / self.T, 0.0, 1.0)
        s = u ** 3 * (10 - 15 * u + 6 * u ** 2)
        sd = 30 * u ** 2 * (1 - u) ** 2 / self.T
        sdd = 60 * u * (1 - u) * (1 - 2 * u) / self.T ** 2
        if u >= 1.0:
            sd = sdd = 0.0
        return self.q0 + self.dq * s, self.dq * sd, self.dq * sdd


@dataclass
class Trajectory:
    name: str
    duration: float                                  # s
    sample: Callable[[float], Desired]
    payload_events: list[tuple[float, float]] = field(default_factory=list)   # (t s, mass kg)


def _segments(model: NominalModel, targets, q0, t0: float, pause: float, speed: float = 0.8):
    r = model.robot
    segs, q, t = [], np.asarray(q0, float), t0
    for tgt in targets:
        goal, _ = model.ik(np.asarray(tgt, float), q)
        segs.append(MinimumJerk.at_speed(q, goal, t, speed * r.velocity_limit))
        q, t = goal, t + segs[-1].T + pause
    return segs, t


def _piecewise(segs, q_start):
    starts = np.array([s.t0 for s in segs])

    def sample(t: float) -> Desired:
        i = int(np.searchsorted(starts, t, side="right")) - 1
        if i < 0:
            return Desired(q_start.copy(), np.zeros_like(q_start), np.zeros_like(q_start))
        return Desired(*segs[i].sample(t))
    return sample


def reach_moves(model: NominalModel, seed: int = 0, n: int = 3, pause: float = 0.4) -> Trajectory:
    r = model.robot
    targets = ReachTask.from_robot(r).sample_targets(n, seed)
    segs, t_end = _segments(model, targets, r.home, 0.2, pause)
    return Trajectory("reach", t_end + 0.2, _piecewise(segs, r.home))


def joint_sines(robot, seed: int = 0, duration: float = 4.0, fmin: float = 1.0, fmax: float = 2.0,
                speed: float = 0.7, max_amp: float = 0.15, ramp: float = 0.5) -> Trajectory:
    """q_j = home_j + A_j w(t) sin(2 pi f_j t); A_j keeps the peak speed under `speed` x the limit,
    w ramps the amplitude in and out (smooth, so the reference starts and ends at rest)."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(fmin, fmax, robot.n)
    amp = np.minimum(max_amp, speed * robot.velocity_limit / (2 * np.pi * f * 1.3))
    home = robot.home.copy()

    def sample(t: float) -> Desired:
        # w = smoothstep envelope of the amplitude; its derivatives enter qd and qdd
        u_in, u_out = np.clip(t / ramp, 0, 1), np.clip((duration - t) / ramp, 0, 1)
        w, wd, wdd = 1.0, 0.0, 0.0
        for u, sgn in ((u_in, 1.0), (u_out, -1.0)):
            if u < 1.0:
                w = u * u * (3 - 2 * u)
                wd = sgn * 6 * u * (1 - u) / ramp
                wdd = 6 * (1 - 2 * u) / ramp ** 2
        om = 2 * np.pi * f
        s, c = np.sin(om * t), np.cos(om * t)
        q = home + amp * w * s
        qd = amp * (wd * s + w * om * c)
        qdd = amp * (wdd * s + 2 * wd * om * c - w * om * om * s)
        return Desired(q, qd, qdd)
    return Trajectory("sines", duration, sample)


def payload_hold(model: NominalModel, mass: float = 1.0, t_load: float = 1.5, duration: float = 3.5) -> Trajectory:
    """Move to a forward, extended pose, hold it; a payload of `mass` kg appears at t_load."""
    r = model.robot
    ws = ReachTask.from_robot(r)
    target = np.array([ws.high[0], 0.0, 0.5 * (ws.low[2] + ws.high[2])])
    segs, _ = _segments(model, [target], r.home, 0.0, 0.0)
    return Trajectory("payload", duration, _piecewise(segs, r.home), [(t_load, mass)])


def excitation(model: NominalModel, seed: int, duration: float) -> Trajectory:
    """Reaches to random targets alternating with multi-sines about each reached pose, for data."""
    r = model.robot
    rng = np.random.default_rng(seed + 1000)
    parts, t, q = [], 0.0, r.home.copy()
    task = ReachTask.from_robot(r)
    while t < duration:
        segs, t_end = _segments(model, task.sample_targets(1, int(rng.integers(1 << 30))), q, t,
                                pause=0.0, speed=float(rng.uniform(0.4, 0.9)))
        parts.append(("reach", t, segs[0]))
        q, t = segs[0].q0 + segs[0].dq, t_end
        dur = float(rng.uniform(1.0, 2.5))
        sines = joint_sines(r, int(rng.integers(1 << 30)), dur, 0.3, 2.5, float(rng.uniform(0.3, 0.8)),
                            ramp=min(0.4, dur / 2))
        parts.append(("sines", t, (sines, q.copy())))
        t += dur
    starts = np.array([p[1] for p in parts])

    def sample(tq: float) -> Desired:
        i = max(0, int(np.searchsorted(starts, tq, side="right")) - 1)
        kind, t0, obj = parts[i]
        if kind == "reach":
            return Desired(*obj.sample(tq))
        sines, base = obj
        d = sines.sample(tq - t0)
        return Desired(d.q - r.home + base, d.qd, d.qdd)
    return Trajectory("excitation", duration, sample)
