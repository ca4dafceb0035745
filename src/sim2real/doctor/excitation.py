"""The doctor's experiment, in the driver's own joint order ("wire" slots): hold every slot with a
PD on its own reported position, then pulse one slot at a time.

A PD that reads slot k and commands slot k stays stable whatever the driver gets wrong (order,
sign, offset, scale all cancel in the loop), so the arm is held safely while the faults are
measured. A constant gravity feed-forward from the model at the start pose (by the names the
driver reports) spares the arm the fall a pure PD would start with; if the names lie, the PD and
the excursion limit still catch it. Pulses are small (a fraction of the slot's effort limit) and the experiment aborts at
once on the lock, a large excursion, a high velocity or a non-finite reading.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim2real.doctor.guard import running

SETTLE_S, REST_S, PULSE_S, AFTER_S = 0.6, 0.6, 0.05, 0.6
HOLD_W, HOLD_ZETA = 8.0, 1.0       # rad/s, -: the hold's bandwidth and damping ratio per joint
PULSE_DV = 0.5                     # rad/s a pulse should add, well inside the velocity limits
FF_DEFLECTION = 0.1               # rad: the gravity feed-forward's cap, as deflection of the hold
FRICTION_MARGIN = 6.0              # a pulse is at least this many times the joint's Coulomb friction
MAX_EXCURSION, MAX_SPEED = 0.35, 1.5   # rad, rad/s: beyond either the experiment aborts


@dataclass
class Excitation:
    effort_limit: np.ndarray            # (n,) N m, per wire slot (by the names the driver reports)
    inertia: np.ndarray                 # (n,) kg m^2, the model's, per wire slot
    friction: np.ndarray                # (n,) N m, the model's Coulomb friction, per wire slot
    feedforward: np.ndarray | None = None   # (n,) N m, the model's gravity torque at the start pose
    pulse_fraction: float = 0.12        # cap on a pulse, fraction of the effort limit
    kp: np.ndarray = field(init=False)
    kd: np.ndarray = field(init=False)

    def __post_init__(self):
        # a hold of the same bandwidth on every joint, light wrist or heavy shoulder
        self.kp = np.minimum(100.0 * self.effort_limit / self.effort_limit.max(), HOLD_W ** 2 * self.inertia)
        self.kd = 2 * HOLD_ZETA * np.sqrt(self.kp * self.inertia)
        # strong enough to dwarf friction, short enough on light joints to stay slow
        self.amplitude = np.minimum(np.maximum(self.inertia * PULSE_DV / PULSE_S, FRICTION_MARGIN * self.friction),
                                    self.pulse_fraction * self.effort_limit)
        self.width = np.minimum(PULSE_S, self.inertia * PULSE_DV / self.amplitude)
        if self.feedforward is not None:
            # never more than the hold can take back if the model's guess is wrong (a reversed or
            # mislabelled joint): at most FF_DEFLECTION of deflection either way
            lim = self.kp * FF_DEFLECTION
            self.feedforward = np.clip(self.feedforward, -lim, lim)
        self.n = len(self.effort_limit)
        self.q_ref = None
        self.t0 = None
        self.aborted: str | None = None
        self.log_t, self.log_q, self.log_qd, self.log_cmd = [], [], [], []
        # schedule: settle, rest window, then per slot (+pulse, hold, -pulse, hold)
        self.rest = (SETTLE_S, SETTLE_S + REST_S)
        self.pulses = []   # (slot, sign, t_start)
        t = SETTLE_S + REST_S
        for k in range(self.n):
            for sign in (+1, -1):
                self.pulses.append((k, sign, t))
                t += PULSE_S + AFTER_S
        self.duration = t

    def command(self, t: float, q: np.ndarray, qd: np.ndarray, locked: bool = False) -> np.ndarray | None:
        """The wire command for the state at time t; None once finished or aborted."""
        if not running(self, t, q, qd, locked, MAX_EXCURSION, MAX_SPEED):
            return None
        tau = self.kp * (self.q_ref - q) - self.kd * qd
        if self.feedforward is not None:
            tau += self.feedforward
        rel = t - self.t0
        for k, sign, ts in self.pulses:
            if ts <= rel < ts + self.width[k]:
                tau[k] += sign * self.amplitude[k]
        tau = np.clip(tau, -self.effort_limit, self.effort_limit)
        self.log_t.append(rel)
        self.log_q.append(q.copy())
        self.log_qd.append(qd.copy())
        self.log_cmd.append(tau.copy())
        return tau

    def record(self) -> dict:
        return {"t": np.array(self.log_t), "q": np.array(self.log_q), "qd": np.array(self.log_qd),
                "cmd": np.array(self.log_cmd), "rest": self.rest, "pulses": list(self.pulses)}
