"""The doctor's experiment for position and PD-target robots (the motors close the joint PD):
hold every slot at the pose measured at the start, then step one slot at a time by STEP_RAD and
back, in the driver's own order. From each step it reads whether the joint went the commanded
way, how much of the step it tracked, how long it took to start and whether another slot moved
instead (reporting and commanding orders that disagree). It aborts at once on the lock, a large
excursion, a high velocity or a non-finite reading. Offsets at rest are not observable this way
on a loaded (standing) robot: the joint PD's sag under the load looks the same.
"""
from __future__ import annotations

import numpy as np

from sim2real.doctor.findings import OK, SUSPICIOUS, WRONG, Finding
from sim2real.doctor.guard import running

SETTLE_S, STEP_S, BACK_S = 0.5, 0.4, 0.4
STEP_RAD = 0.08                        # small against the legs' ranges, large against sensor noise
MAX_EXCURSION, MAX_SPEED = 0.35, 3.0   # rad, rad/s: beyond either the experiment aborts
TRACK_OK = (0.15, 2.0)                 # share of the step tracked: wide, since a standing robot's legs load and
                                       # move each other (0.28-1.45 seen on the nominal Go1 and NAO)
LATENCY_SUSPICIOUS_S = 0.05           # command->first motion: a loaded PD needs 10-30 ms to move 5%
STILL = 0.2                            # a stepped slot tracking less than this share did not move...
ELSEWHERE = 0.5                        # ...and if another moved this share of the step: orders disagree


class StepExperiment:
    def __init__(self, n: int, skip: set[int] = frozenset()):
        """n wire slots; skip: slots not to step (a mimic joint without a motor of its own)."""
        self.n = n
        self.q_ref = None
        self.t0 = None
        self.aborted: str | None = None
        self.finished = False
        stepped = [k for k in range(n) if k not in skip]
        self.steps = [(k, SETTLE_S + i * (STEP_S + BACK_S)) for i, k in enumerate(stepped)]   # (slot, t_start)
        self.duration = SETTLE_S + len(stepped) * (STEP_S + BACK_S)
        self.log_t, self.log_q, self.log_qd = [], [], []

    def command(self, t: float, q: np.ndarray, qd: np.ndarray, locked: bool = False) -> np.ndarray | None:
        """Joint targets (rad, wire order) for the state at time t; None once finished or aborted."""
        if not running(self, t, q, qd, locked, MAX_EXCURSION, MAX_SPEED):
            return None
        rel = t - self.t0
        target = self.q_ref.copy()
        for k, ts in self.steps:
            if ts <= rel < ts + STEP_S:
                target[k] += STEP_RAD
        self.log_t.append(rel)
        self.log_q.append(q.copy())
        self.log_qd.append(qd.copy())
        return target

    def record(self) -> dict:
        return {"t": np.array(self.log_t), "q": np.array(self.log_q), "steps": list(self.steps)}


def step_findings(rec: dict, order: list[str]) -> list[Finding]:
    """Per slot: direction, share of the step tracked, latency (to the first motion beyond 5% of
    the response), and whether another slot moved instead. (On a standing robot the legs move
    each other through the ground: only a stepped slot that stays still while another moves
    says the orders disagree.)"""
    t, q = rec["t"], rec["q"]
    out = []
    for k, ts in rec["steps"]:
        before = q[(t >= ts - 0.1) & (t < ts)]
        during = q[(t >= ts) & (t < ts + STEP_S)]
        settled = q[(t >= ts + 0.75 * STEP_S) & (t < ts + STEP_S)]
        if len(before) == 0 or len(settled) == 0:
            continue
        dq = settled.mean(0) - before.mean(0)             # (n,) every slot's response to stepping slot k
        ratio = dq[k] / STEP_RAD
        name = order[k]
        reversed_ = ratio < -0.2
        out.append(Finding("direction", name, WRONG if reversed_ else OK,
                           "reversed" if reversed_ else "as commanded", "as commanded",
                           "reported and commanded with the opposite sense" if reversed_ else ""))
        lo, hi = TRACK_OK
        st = OK if lo <= abs(ratio) <= hi else SUSPICIOUS
        out.append(Finding("step tracked", name, st, f"{abs(ratio):.2f} of {STEP_RAD} rad", f"{lo}..{hi}",
                           "command scale, joint PD gains or a blocked joint" if st != OK else ""))
        moved = np.abs(during[:, k] - before[:, k].mean()) > max(0.05 * abs(dq[k]), 1e-3)
        if moved.any():
            lat = float(t[(t >= ts) & (t < ts + STEP_S)][np.argmax(moved)] - ts)
            out.append(Finding("latency", name, SUSPICIOUS if lat > LATENCY_SUSPICIOUS_S else OK,
                               f"{1e3 * lat:.0f} ms", f"<= {1e3 * LATENCY_SUSPICIOUS_S:.0f} ms",
                               "command->first motion (5% of the response)"))
        others = np.abs(np.where(np.arange(len(dq)) == k, 0.0, dq))
        if abs(ratio) < STILL and others.max() > ELSEWHERE * STEP_RAD:
            out.append(Finding("joint order", name, WRONG, f"stepping it moved {order[int(np.argmax(others))]}",
                               "itself", "the driver reports and accepts joints in different orders"))
    return out
