"""The doctor's experiment for torque-controlled robots, in the driver's own joint order ("wire"
slots). Every slot is held by a PID on its own reported position: a loop that reads slot k and
commands slot k stays stable whatever the driver gets wrong (order, sign, offset and scale all
cancel in it), so the arm is held safely while the faults are measured.

The run, phase by phase (the schedule grows when a pulse has to be repeated):

    listen    a few states with nothing commanded: the torque the driver's own brake hold
              applies (its torque sensing) becomes the hold's static torque, so taking over is
              bumpless whatever the model believes about the pose (reversed, offset joints)
    settle    the hold at a bandwidth that is stable for any loop up to MAX_DELAY_S round trip +
              MAX_LAG_S actuator lag
    probe     a small torque doublet on every slot at once, PROBES times: the loop's round trip,
              actuator lag and each motor's torque gain from what the torque sensors report
              (doctor/timing.py); the hold is then retuned to the measured delay and commands
              are divided by the measured gains (what is found is corrected, then probed again)
    rest      the torque holding the arm at the start pose (gravity: direction, offsets)
    pulses    one slot at a time, each way, sized to the measured delay; a pulse whose timing was
              disturbed (a gap in the states, states arriving late, a response that does not fit
              the loop) is repeated, up to MAX_REPEATS times
    pose 2    the joints gravity does not load at the start pose are turned (second_pose) so
              that it does; settle, rest again; then back to the start pose

It aborts at once on the lock, a large excursion from the reference, a high velocity or a
non-finite reading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sim2real.doctor import timing
from sim2real.doctor.guard import running

LISTEN_MAX_S, LISTEN_STILL = 0.06, 0.02  # listen until the sensed torque stops changing (2%), or this long
LISTEN_STILL_QD = 0.5              # rad/s: a joint faster than this while listening: take over at once
SETTLE_S, RETUNE_S, REST_S = 0.6, 0.4, 0.5
PROBES, PROBE_W, PROBE_GAP_S, PROBE_DV = 3, 0.03, 0.3, 0.1    # doublets, s each half, s apart, rad/s
PULSE_S, PULSE_DV = 0.05, 0.2      # s, rad/s a pulse adds (under the filter's velocity governor: it
                                   # would cut the torque and read as a weak motor)
FRICTION_MARGIN = 2.0              # a pulse is at least this many times the joint's Coulomb friction
MOVE_S, POSE_SETTLE_S = 3.0, 0.8
STILL_QD, STILL_Q, MAX_RESTS = 0.005, 0.002, 4   # rad/s mean, rad between its halves: a rest that moved more is redone
MAX_DELAY_S, MAX_LAG_S = 0.045, 0.02   # the loop the first hold is sized for (40 ms round trip + margin)
HOLD_ZETA, INTEGRAL_PERIODS = 1.0, 2.5   # -, integral time in units of 1/w
MAX_EXCURSION, MAX_SPEED = 0.35, 1.5     # rad from the reference, rad/s: beyond either the run aborts
MAX_REPEATS = 2                    # per pulse or probe
GAP_PERIODS = 6                    # a hole of more than this many periods in the states disturbs a pulse
SLOW_RATE = 0.85                   # states at less than this share of the control rate: disturbed
AGE_JITTER_S = 0.01                # a state arriving this much later than usual disturbs a pulse
FIT_R2 = 0.8                       # below: a pulse's torque response does not fit the loop: disturbed
DITHER_HZ = 20.0                   # rest windows: a small torque dither keeps static friction out of
DITHER_FRICTION = 2.0              # the holding torque (amplitude, in units of the joint's friction)
SECOND_POSE_RAD = 0.6              # how far second_pose turns a joint
TAKEOVER_S, TAKEOVER_EVERY = 0.3, 8   # s after taking over, states: each loaded motor's gain from how
                                      # its sensed torque went from the driver's hold to ours
FF_EVERY = 25                      # states: how often a move re-picks the senses its feed-forward assumes
FF_SWITCH, FF_BLEND_S = 0.8, 0.3   # another pick's misfit must be under this share of the current's;
                                   # s over which the feed-forward's step at a switch fades in
LOADED = 1.0                       # N m: a slot holding this much shows its gain in the static torque


@dataclass
class Excitation:
    effort_limit: np.ndarray            # (n,) N m, per wire slot (by the names the driver reports)
    inertia: np.ndarray                 # (n,) kg m^2, the model's, per wire slot
    friction: np.ndarray                # (n,) N m, the model's Coulomb friction, per wire slot
    feedforward: np.ndarray | None = None   # (n,) N m, the model's gravity torque at the start pose
    pulse_fraction: float = 0.12        # cap on a pulse, fraction of the effort limit
    pose2: Callable | None = None       # (holding torque (n,), pose (n,), S (n,)) -> (n,) rad: how far to turn
                                        # each slot for the second pose, planned once rested at the first
    dt: float = 0.002                   # s, the control period
    sim_time: bool = False              # stamps from /clock (lockstep): timing cannot be disturbed
    inertia_diag: np.ndarray | None = None   # (n,) kg m^2: the mass matrix's diagonal (the others held)
    gravity_stiffness: np.ndarray | None = None   # (n,) N m/rad, -d(gravity torque)/dq per slot: > 0
                                        # where gravity pulls a joint further the further it goes
    gravity: Callable | None = None     # (q (n,) rad, S (n,) senses) -> (n,) N m: the model's holding
                                        # torque at a reported pose for drivers with senses S, wire order
    senses: Callable | None = None      # (holding torque (n,), pose (n,)) -> [S (n,)]: the senses gravity
                                        # cannot tell apart at one pose (unloaded joints either way)
    inertias: Callable | None = None    # (q (n,), S (n,)) -> (effective, diagonal) (n,) kg m^2 at a reported
                                        # pose: the second pose is held with the gains that suit both
    kp: np.ndarray = field(init=False)

    def __post_init__(self):
        self.n = len(self.effort_limit)
        self.gain = np.ones(self.n)        # torque produced / commanded, once measured
        self.delay_s, self.lag_s = MAX_DELAY_S, MAX_LAG_S
        self.measured_timing = False
        self.probe_amp = np.minimum(np.maximum(self.inertia * PROBE_DV / PROBE_W, 2 * self.friction),
                                    0.1 * self.effort_limit)
        self._tune(timing.hold_bandwidth(MAX_DELAY_S, MAX_LAG_S))
        self.q_ref = self.t0 = None
        self.q0 = None
        self.static = None                 # (n,) command units: the hold's feed-forward + integral
        self.aborted: str | None = None
        self.finished = False
        self.duration = np.inf             # the schedule ends the run (guard.running reads this)
        self.effort_seen = False
        self.log_t, self.log_q, self.log_qd, self.log_cmd, self.log_eff, self.log_recv = [], [], [], [], [], []
        self._listen: list[np.ndarray] = []
        self._listen_t: list[float] = []
        self.fwd_recv: list[float] = []    # what the filter sent the driver: when it arrived here (wall s)
        self.fwd_cmd: list[np.ndarray] = []
        self._uncalibrated: list[int] = []
        # the schedule: (kind, duration s, data); started one after the other
        self.queue = [("settle", SETTLE_S, None)] + [("probe", PROBE_GAP_S, None) for _ in range(PROBES)]
        self.queue += [("retune", RETUNE_S, None), ("rest", REST_S, 0)]
        self.seg = None                    # (kind, t_start, t_end, data) running now
        self.probes: list[dict] = []       # {"t", "disturbed", "delay_s"}
        self.pulses: list[dict] = []       # {"slot", "sign", "t", "width", "disturbed", "repeat"}
        self.rests: list[tuple[float, float, int]] = []   # (t0, t1, pose)
        self.tries: list[int] = []         # rests redone because the arm was still settling, by pose
        self.S = None                      # (n,) senses found at the start pose, once rested there
        self._ff = None
        self._ff_step, self._ff_t = None, 0.0   # the feed-forward's last switch of senses (N m, s)
        self.move = None                   # (t0, t1, from, to) of a move of the reference

    # ---- sizing -------------------------------------------------------------------------------
    def _tune(self, w: float) -> None:
        """A PID of natural frequency w on every slot, heavy shoulder or light wrist alike."""
        self.w = w
        self.kp = np.minimum(100.0 * self.effort_limit / self.effort_limit.max(), w ** 2 * self.inertia)
        if self.gravity_stiffness is not None:
            # an arm above the horizontal is an inverted pendulum: gravity's negative spring
            # (up to ~10 N m/rad on the shoulder) would all but cancel a hold sized for the delay
            self.kp = self.kp + np.maximum(self.gravity_stiffness, 0.0)
        self.kd = 2 * HOLD_ZETA * np.sqrt(self.kp * self.inertia)
        # the integral is timed for the slowest the joint may be: a joint coupled to its neighbours
        # (joint_1 and joint_3) is as heavy as M's diagonal when they hold, and a PI timed for the
        # light case swung it slowly at the second pose
        slow = w * np.sqrt(self.inertia / self.inertia_diag) if self.inertia_diag is not None else w
        self.ki = self.kp * slow / INTEGRAL_PERIODS
        # strong enough to dwarf friction, short enough on light joints to stay slow
        self.amplitude = np.minimum(np.maximum(self.inertia * PULSE_DV / PULSE_S, FRICTION_MARGIN * self.friction),
                                    self.pulse_fraction * self.effort_limit)
        self.width = np.full(self.n, PULSE_S)     # friction takes the rest of a light joint's pulse
        self.after = max(0.45, 3.0 / w + 2.0 * (self.delay_s + self.lag_s))   # the hold brings it back

    # ---- the command ----------------------------------------------------------------------------
    def command(self, t: float, q: np.ndarray, qd: np.ndarray, locked: bool = False,
                effort: np.ndarray | None = None, recv: float | None = None) -> np.ndarray | None:
        """The wire command for the state at time t (s); None while listening, once finished or
        aborted (`finished` / `aborted` say which). effort: (n,) N m as the driver reports it
        (None or empty without torque sensing); recv: wall time the state arrived, s."""
        eff = np.asarray(effort, float) if effort is not None and len(effort) else None
        if self.seg is None:                       # listening: the driver's own hold acts
            if self.t0 is not None:                # no excursion or speed of ours to judge yet
                self.q_ref = q.copy()
            if not running(self, t, q, qd, locked, np.inf, np.inf):
                return None
            rel = t - self.t0
            # moving: something other than a hold acts (another node's commands): take over now
            moving = np.max(np.abs(qd)) > LISTEN_STILL_QD
            if eff is not None and rel < LISTEN_MAX_S and not moving:
                self._listen.append(eff)
                self._listen_t.append(rel)
                if not self._still():
                    return None
            self._start(rel, trust_listen=not moving)
        else:
            self.q_ref = self._reference(t - self.t0)
            if not running(self, t, q, qd, locked, MAX_EXCURSION, MAX_SPEED):
                return None
        rel = t - self.t0
        if self._uncalibrated and self.log_t and len(self.log_t) % TAKEOVER_EVERY == 0:
            self._takeover_gain(rel)
        while rel >= self.seg[2]:
            if not self._next(rel):
                self.finished = True
                return None
        self.q_ref = self._reference(rel)
        ref_v = self._reference_velocity(rel)
        e = self.q_ref - q
        dt = self.dt if not self.log_t else min(max(rel - self.log_t[-1], 0.0), 4 * self.dt)
        self.static += self.ki * e * dt / self.gain
        np.clip(self.static, -self.effort_limit, self.effort_limit, out=self.static)
        torque = self.kp * e + self.kd * (ref_v - qd) + self._extra(rel) + self._pose_ff(rel)
        cmd = np.clip(self.static + torque / self.gain, -self.effort_limit, self.effort_limit)
        self.log_t.append(rel)
        self.log_q.append(q.copy())
        self.log_qd.append(qd.copy())
        self.log_cmd.append(cmd)
        self.log_eff.append(eff if eff is not None else np.full(self.n, np.nan))
        self.log_recv.append(np.nan if recv is None else recv)
        if eff is not None:
            self.effort_seen = True
        return cmd

    def _start(self, rel: float, trust_listen: bool = True) -> None:
        """Take over from the driver's hold: its torque (sensed), else the model's gravity."""
        held = np.mean(self._listen[-10:], axis=0) if self._listen and trust_listen else None
        if held is not None and np.any(np.abs(held) > 1e-9):
            self.static = held
        elif self.feedforward is not None:
            self.static = np.array(self.feedforward, float)
        else:
            self.static = np.zeros(self.n)
        self.q0 = self.q_ref.copy()
        self.t_takeover = rel
        loaded = np.abs(self.static) > LOADED if self._listen else np.zeros(self.n, bool)
        self._uncalibrated = [int(k) for k in np.flatnonzero(loaded)] if trust_listen else []
        self._brake = self.static.copy()     # the driver's hold torque we took over from (N m)
        kind, dur, data = self.queue.pop(0)
        self.seg = (kind, rel, rel + dur, data)

    def _still(self) -> bool:
        """The driver's hold torque has settled: the last 10 sensed torques within 2% (+ 10 mN m)."""
        if len(self._listen) < 12:
            return False
        last = np.array(self._listen[-10:])
        return bool(np.all(np.ptp(last, axis=0) <= LISTEN_STILL * np.abs(last.mean(0)) + 0.01))

    def _extra(self, rel: float) -> np.ndarray:
        """Probe doublets, pulses and the rest windows' dither (N m, before the gain correction)."""
        kind, ts, _, data = self.seg
        out = np.zeros(self.n)
        x = rel - ts
        if kind == "probe":
            if x < PROBE_W:
                out += self.probe_amp
            elif x < 2 * PROBE_W:
                out -= self.probe_amp
        elif kind == "pulse":
            slot, sign = data
            if x < self.width[slot]:
                out[slot] = sign * self.amplitude[slot]
        elif kind == "rest":
            out += DITHER_FRICTION * self.friction * np.sin(2 * np.pi * DITHER_HZ * x)
        return out

    # ---- the schedule ---------------------------------------------------------------------------
    def _next(self, rel: float) -> bool:
        """The running segment has ended at rel: judge it, then start the next. False at the end."""
        kind, ts, te, data = self.seg
        if kind == "probe":
            self._judge_probe(ts, te)
        elif kind == "retune":
            pass
        elif kind == "rest":
            if self._still_in(ts, te) or sum(1 for r in self.tries if r == data) >= MAX_RESTS:
                self.rests.append((ts + 0.1 * (te - ts), te, data))   # the first tenth: dither settling
            else:                                                     # still settling: rest again
                self.tries.append(data)
                self.queue.insert(0, ("rest", REST_S, data))
                kind = "again"
        elif kind == "pulse":
            self._judge_pulse(ts, te, data)
        if kind == "probe" and (not self.queue or self.queue[0][0] != "probe"):
            self._measured()
        if kind == "rest" and data == 0:
            held, q_rest = self._held(*self.rests[-1][:2])
            self._first_senses(held, q_rest)
            self.queue = [("pulse", self.after, (k, s)) for k in range(self.n) for s in (+1, -1)]
            self.delta2 = (np.zeros(self.n) if self.pose2 is None
                           else np.asarray(self.pose2(held, q_rest, self.S if self.S is not None else np.ones(self.n))))
            if np.any(self.delta2):
                q2 = self.q0 + self.delta2
                self.queue += [("move", MOVE_S, (self.q0, q2)), ("settle", POSE_SETTLE_S, None), ("rest", REST_S, 1),
                               ("move", MOVE_S, (q2, self.q0)), ("settle", 0.3, None)]
        if kind == "move":
            self.q0_ref = data[1]
        if not self.queue:
            return False
        kind, dur, data = self.queue.pop(0)
        if kind == "move" and not getattr(self, "_retuned", False) and self.inertias is not None:
            # a vertical axis (joint_1) is far heavier with the arm turned out: a PI timed for the
            # start pose swung it slowly there
            self._retuned = True
            S = self.S if self.S is not None else np.ones(self.n)
            ie, idg = self.inertias(data[1], S)
            self.inertia, self.inertia_diag = np.minimum(self.inertia, ie), np.maximum(self.inertia_diag, idg)
            self._tune(self.w)
        self.seg = (kind, te, te + dur, data)
        return True

    def _held(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """(holding torque N m, pose rad) over a rest window: sensed, else commanded x gain."""
        t = np.array(self.log_t)
        sel = (t >= t0) & (t < t1)
        held = (np.nanmean(np.array(self.log_eff)[sel], axis=0) if self.effort_seen
                else np.array(self.log_cmd)[sel].mean(0) * self.gain)
        return held, np.array(self.log_q)[sel].mean(0)

    def _first_senses(self, held: np.ndarray, q: np.ndarray) -> None:
        """What gravity says about the senses at the start pose (the joints it loads there), so
        that moving to the second pose can take the gravity it meets as feed-forward."""
        if self.senses is None or self.gravity is None:
            return
        self.candidates = [np.asarray(S, float) for S in self.senses(held, q)]
        self.S = self.candidates[0]
        self._g_start = {i: self.gravity(self.q0, S) for i, S in enumerate(self.candidates)}
        self._pick = 0

    def _pose_ff(self, rel: float) -> np.ndarray:
        """N m: the model's gravity at the reference less at the start pose, for the senses that
        explain the torque sensed on the way best (those the start pose could not tell apart
        part ways as the arm turns: correct what is found, probe again); 0 at the start pose."""
        if self.S is None or self.seg[0] not in ("move", "settle", "rest"):
            return 0.0
        if self.seg[0] == "move" or self._ff is None:
            if self.effort_seen and len(self.candidates) > 1 and len(self.log_t) % FF_EVERY == 0:
                held = np.nanmean(np.array(self.log_eff[-FF_EVERY:]), axis=0)
                q = np.array(self.log_q[-FF_EVERY:]).mean(0)
                miss = [np.linalg.norm(held - self.gravity(q, S)) for S in self.candidates]
                best = int(np.argmin(miss))
                # only for a clearly better fit (the sensed torque carries the hold's own swings:
                # picks chattering between two explanations rang the wrist under 40 ms), and
                # without a step: the difference fades out over FF_BLEND_S
                if best != self._pick and miss[best] < FF_SWITCH * miss[self._pick]:
                    self._ff_step = self._ff_blend(rel) + self._ff_for(self._pick) - self._ff_for(best)
                    self._ff_t = rel
                    self._pick = best
            self._ff = self._ff_for(self._pick)
        return self._ff + self._ff_blend(rel)

    def _ff_for(self, i: int) -> np.ndarray:
        """The gravity feed-forward at the reference for candidate senses i (N m, wire order)."""
        return self.gravity(self.q_ref, self.candidates[i]) - self._g_start[i]

    def _ff_blend(self, rel: float) -> np.ndarray | float:
        """What is left of the feed-forward's last switch of senses (N m), fading out."""
        if self._ff_step is None:
            return 0.0
        return self._ff_step * np.exp(-max(rel - self._ff_t, 0.0) / FF_BLEND_S)

    def _still_in(self, t0: float, t1: float) -> bool:
        t = np.array(self.log_t)
        sel = (t >= t0) & (t < t1)
        if sel.sum() < 10:
            return False
        q, qd = np.array(self.log_q)[sel], np.array(self.log_qd)[sel]
        half = len(q) // 2
        drift = np.abs(q[half:].mean(0) - q[:half].mean(0))
        return bool(np.all(np.abs(qd.mean(0)) < STILL_QD) and np.all(drift < STILL_Q))

    def _reference(self, rel: float) -> np.ndarray:
        """The pose the hold keeps: the start pose, the second pose, or on a minimum-jerk move."""
        if self.q0 is None:
            return self.q_ref
        kind, ts, te, data = self.seg
        if kind == "move":
            s = np.clip((rel - ts) / (te - ts), 0.0, 1.0)
            return data[0] + (data[1] - data[0]) * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)
        return getattr(self, "q0_ref", self.q0)

    def _reference_velocity(self, rel: float) -> np.ndarray:
        kind, ts, te, data = self.seg
        if kind != "move":
            return np.zeros(self.n)
        s = np.clip((rel - ts) / (te - ts), 0.0, 1.0)
        return (data[1] - data[0]) * (30 * s ** 2 - 60 * s ** 3 + 30 * s ** 4) / (te - ts)

    # ---- judging timing as it runs ----------------------------------------------------------------
    def _arrays(self):
        return (np.array(self.log_t), np.array(self.log_cmd), np.array(self.log_eff), np.array(self.log_recv))

    def forwarded(self, recv: float, cmd: np.ndarray) -> None:
        """What the safety filter really sent the driver (wire order), and when it arrived here
        (wall s). On a loaded host the filter answers each state once: of a burst of late answers
        it passes the first and drops the rest, so the motors see another command stream than
        the one this experiment computed; the fits read this one."""
        if self.t0 is not None and self.seg is not None:
            self.fwd_recv.append(recv)
            self.fwd_cmd.append(np.array(cmd, float))

    def _commands(self, t, cmd, recv, forwarded: bool = True):
        """(times on the stamps' clock less t0, commands) of the stream the motors saw: the filter's
        as it arrived, else ours, each at the stamp it answered plus how much later than usual its
        state arrived (fitted by the stamp alone, a late answer looks like more delay or lag)."""
        if self.sim_time or not np.isfinite(recv).all() or len(t) == 0:
            return t, cmd
        age = np.median(recv - t)
        if forwarded and len(self.fwd_recv) > 10:
            return np.array(self.fwd_recv) - age, np.array(self.fwd_cmd)
        return recv - age, cmd

    def _disturbed(self, t0: float, t1: float, t, recv) -> str | None:
        """Why the states of [t0, t1) do not time a response faithfully, or None."""
        sel = (t >= t0 - self.dt) & (t < t1)
        if sel.sum() < 3:
            return "no states"
        gap = float(np.max(np.diff(t[sel])))
        if gap > GAP_PERIODS * self.dt:
            return f"{1e3 * gap:.0f} ms without a state"
        rate = (sel.sum() - 1) / max(float(np.ptp(t[sel])), 1e-9)
        if rate < SLOW_RATE / self.dt:
            # a driver behind its own period: a simulated robot's time running slow (a starved host)
            # delivers less of every pulse per second of stamps, and reads as a weak motor
            return f"the driver fell behind its rate ({rate:.0f} Hz)"
        if not self.sim_time and np.isfinite(recv).all():
            age = recv - t
            late = float(np.max(age[sel]) - np.median(age))
            if late > AGE_JITTER_S:
                return f"a state {1e3 * late:.0f} ms later than usual"
        return None

    def _judge_probe(self, ts: float, te: float) -> None:
        t, cmd, eff, recv = self._arrays()
        why = self._disturbed(ts, te, t, recv)
        delay = np.nan
        if why is None and self.effort_seen:
            tu, u = self._commands(t, cmd, recv, forwarded=False)
            fit = timing.fit_loop(t, u, eff, [(ts - 0.02, te)], self.dt, self._sensed(), tu)
            delay = fit.delay_s
        p = {"t": ts, "disturbed": why, "delay_s": delay}
        self.probes.append(p)
        if why and sum(1 for x in self.probes if x["disturbed"]) <= MAX_REPEATS:
            self.queue.insert(0, ("probe", PROBE_GAP_S, None))

    def _sensed(self) -> list[int]:
        """Slots whose probe torque stands out of nothing: all, unless the driver reports zeros."""
        eff = np.array(self.log_eff)
        return [k for k in range(self.n) if np.nanstd(eff[:, k]) > 1e-9] or list(range(self.n))

    def _measured(self) -> None:
        """After the probes: the loop's delay, lag and each motor's gain; retune the hold to them."""
        if not self.effort_seen:
            return          # no torque sensing: the hold stays sized for the slowest loop
        t, cmd, eff, recv = self._arrays()
        wins = [(p["t"] - 0.02, p["t"] + PROBE_GAP_S) for p in self.probes if not p["disturbed"]]
        if not wins:
            return
        # the hold is retuned from our own commands (what the filter passed is for reading the
        # pulses after the fact: its stream, as it arrives here, jitters with this host's load)
        tu, u = self._commands(t, cmd, recv, forwarded=False)
        fit = timing.fit_loop(t, u, eff, wins, self.dt, self._sensed(), tu)
        self.delay_s, self.lag_s = fit.delay_s, fit.lag_s
        # corrected where the fit is clear and the error large: a noisy small correction is worse
        # than none; never beyond what a units mix-up gives
        ok = (fit.r2 > 0.9) & (np.abs(fit.gain / self.gain - 1.0) > 0.1) & (fit.gain > 0.4) & (fit.gain < 2.5)
        self._set_gain(np.where(ok, fit.gain, self.gain))
        self.measured_timing = True
        self.probe_fit = fit
        self._tune(timing.hold_bandwidth(self.delay_s, self.lag_s))

    def _set_gain(self, gain: np.ndarray) -> None:
        """Divide commands by the measured gains from now on; the static torque keeps its meaning."""
        self.static *= self.gain / gain
        self.gain = gain

    def _takeover_gain(self, rel: float) -> None:
        """While the first hold settles: a motor that produces less (or more) torque than commanded
        shows it as soon as the round trip has passed, in how its sensed torque moved from the
        driver's hold to ours (timing.fit_takeover, which reads the motor's own gain from the
        commands really sent). Loaded slots only, until TAKEOVER_S after taking over; each reading
        moves the correction half way (read through the lag this early, a 0.6 motor read 0.48 and
        a full correction rang; one too slow let the shoulder fall)."""
        since = rel - self.t_takeover
        t = np.array(self._listen_t + self.log_t)
        cmd = np.concatenate([np.full((len(self._listen), self.n), np.nan), np.array(self.log_cmd)])
        eff = np.concatenate([np.array(self._listen), np.array(self.log_eff)])
        g = self.gain.copy()
        for k in list(self._uncalibrated):
            d, tau, gk, r2 = timing.fit_takeover(t, cmd[:, k], eff[:, k], self.t_takeover, self._brake[k], self.dt)
            if since > d + tau + 0.01 and r2 > 0.8 and 0.3 < gk < 3.0:
                g[k] += 0.5 * (gk - g[k])
            if since > TAKEOVER_S:
                self._uncalibrated.remove(k)
        self._set_gain(g)

    def _judge_pulse(self, ts: float, te: float, data) -> None:
        slot, sign = data
        t, cmd, eff, recv = self._arrays()
        w = float(self.width[slot])
        end = ts + w + 0.15
        why = self._disturbed(ts - 0.02, end, t, recv)
        delay = lag = gain = r2 = np.nan
        if self.effort_seen:
            tu, u = self._commands(t, cmd, recv)
            delay, lag, gain, r2 = timing.fit_slot(t, u, eff, [(ts - 0.02, end)], self.dt, slot, t_cmd=tu)
            if why is None and r2 < FIT_R2:
                why = f"torque response fits the loop to r2 {r2:.2f}"
        repeat = sum(1 for p in self.pulses if p["slot"] == slot and p["sign"] == sign)
        self.pulses.append({"slot": slot, "sign": sign, "t": ts, "width": w, "disturbed": why,
                            "slow": bool(why and why.startswith("the driver fell behind")),
                            "repeat": repeat, "delay_s": delay, "lag_s": lag, "gain": gain, "r2": r2})
        if why and repeat < MAX_REPEATS:
            self.queue.insert(0, ("pulse", self.after, (slot, sign)))

    def record(self) -> dict:
        t, cmd, eff, recv = self._arrays()
        return {"t": t, "q": np.array(self.log_q), "qd": np.array(self.log_qd), "cmd": cmd, "effort": eff,
                "recv": recv, "dt": self.dt, "effort_seen": self.effort_seen,
                "rests": list(self.rests), "probes": list(self.probes), "pulses": list(self.pulses),
                "delay_s": self.delay_s if self.measured_timing else None,
                "lag_s": self.lag_s if self.measured_timing else None, "gain": self.gain.copy(),
                "probe_gain": (self.probe_fit.gain.copy() if self.measured_timing else None),
                "probe_r2": (self.probe_fit.r2.copy() if self.measured_timing else None),
                "hold_w": self.w}


def second_pose(gravity, q0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                rad: float = SECOND_POSE_RAD, loaded: float = 1.0, held: np.ndarray | None = None) -> np.ndarray:
    """(n,) rad to add to the start pose q0 (config order) so that gravity loads the joints it
    does not load at q0. gravity(q) -> (n,) N m, the model's. A joint is turned when its own
    gravity torque is under `loaded` N m, turning it changes some joint's gravity torque by more
    than that (a vertical axis changes nothing: no use turning it), and q0 +- rad stays inside its
    limits either way (its sense may be reversed). held: (n,) N m sensed holding torques, which
    decide what is loaded when given."""
    g0 = gravity(q0)
    load = np.abs(g0) if held is None else np.maximum(np.abs(g0), np.abs(held))
    delta = np.zeros(len(q0))
    for j in range(len(q0)):
        # each turned joint by its own amount and way (0.6, -0.45, 0.3 rad): rolls turned alike
        # (joint_3 and joint_5 both by 0.6) leave one reversed and the other reversed holding alike
        turn = rad * (1.0 - 0.25 * np.count_nonzero(delta)) * (-1) ** np.count_nonzero(delta)
        if load[j] >= loaded or q0[j] - rad < lower[j] or q0[j] + rad > upper[j]:
            continue
        step = np.zeros(len(q0))
        step[j] = turn
        if np.max(np.abs(gravity(q0 + step) - g0)) > 0.3 * loaded:
            delta[j] = turn
    return delta


def make_excitation(robot, model, order: list[str], q0: np.ndarray, pulse_fraction: float = 0.12,
                    sim_time: bool = False) -> Excitation:
    """The experiment for an effort robot whose driver reports the arm joints in `order` (wire
    slots) at the pose q0 (rad, wire order): sized from the nominal model at that pose, by the
    names the driver reports."""
    cfg = [list(robot.joint_names).index(n) for n in order]     # wire slot k is config joint cfg[k]
    q_cfg = np.empty(robot.n)
    q_cfg[cfg] = q0
    M, g = model.dynamics(q_cfg, np.zeros(robot.n))
    # the inertia a joint shows when the others give way: coupled joints (joint_3 under joint_1)
    # are up to 4x lighter than M's diagonal says, and a hold tuned on the diagonal rang there
    inertia = 1.0 / np.diag(np.linalg.inv(M))
    def gravity(q):
        return model.dynamics(q, np.zeros(robot.n))[1]
    stiff = gravity_stiffness(gravity, q_cfg)

    def to_cfg(x):
        out = np.empty(robot.n)
        out[cfg] = x
        return out

    def wire_gravity(q, S):
        S_c = to_cfg(S)
        return (S_c * gravity(S_c * to_cfg(q)))[cfg]

    def plan(held, q, S):
        """The second pose from the first as found: the model at the pose the senses S say the
        arm is at, the load on each joint as sensed (a model misled by a reversed joint would
        turn a loaded shoulder)."""
        S_c = to_cfg(S)
        lo, hi = np.asarray(robot.position_lower), np.asarray(robot.position_upper)
        return second_pose(gravity, S_c * to_cfg(q), lo, hi, held=to_cfg(held))[cfg] * S

    def inertias(q, S):
        M = model.dynamics(to_cfg(S) * to_cfg(q), np.zeros(robot.n))[0]
        return (1.0 / np.diag(np.linalg.inv(M)))[cfg], np.diag(M)[cfg]

    def senses(held, q):
        from itertools import product

        from sim2real.doctor.identify import analyse_gravity
        a = analyse_gravity([to_cfg(held)], [to_cfg(q)], model)
        unseen = [j for j, nm in enumerate(robot.joint_names) if nm not in a["observable_signs"]]
        out = []
        for S in a["candidates"]:
            for flips in product((1.0, -1.0), repeat=len(unseen)):
                S2 = S.copy()
                S2[unseen] = flips
                out.append(S2[cfg])
        first = a["S"][cfg]
        return [first] + [S for S in out if not np.array_equal(S, first)]

    return Excitation(robot.effort_limit[cfg], inertia[cfg], model.frictionloss[cfg], g[cfg], pulse_fraction,
                      pose2=plan, dt=robot.dt, inertia_diag=np.diag(M)[cfg], sim_time=sim_time, gravity_stiffness=stiff[cfg],
                      gravity=wire_gravity, senses=senses, inertias=inertias)


def gravity_stiffness(gravity, q: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """(n,) N m/rad: -dg_j/dq_j at the reported pose q (config order), the least over the driver
    reporting any one joint reversed (the pose the model would then be at is another one). A
    joint's own reversal leaves its slope as it is (s g(s q) has the same diagonal slope)."""
    n = len(q)
    out = np.full(n, np.inf)
    for k in [None] + [k for k in range(n) if abs(q[k]) > 0.05]:
        qk = q.copy()
        if k is not None:
            qk[k] = -qk[k]
        g0 = gravity(qk)
        slope = np.array([-(gravity(qk + eps * np.eye(n)[j])[j] - g0[j]) / eps for j in range(n)])
        out = np.minimum(out, slope)
    return out
