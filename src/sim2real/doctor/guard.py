"""What every doctor experiment does before it commands anything: start its clock and reference
pose at the first state, stop at its end, and abort at once on the lock, a non-finite reading, a
large excursion or a high speed held for FAST_FOR_S (the experiment's `aborted` then says which)."""
from __future__ import annotations

import numpy as np

FAST_FOR_S = 0.05    # s: a speed over the limit this long aborts (a light joint whipped by its
                     # neighbours' motion is fast for a few states; a run away stays fast)


def running(exp, t: float, q: np.ndarray, qd: np.ndarray, locked: bool,
            max_excursion: float, max_speed: float) -> bool:
    """exp has t0, q_ref, duration, aborted, finished. False once it finished or aborted."""
    if exp.aborted or getattr(exp, "finished", False):
        return False
    if exp.t0 is not None and t - exp.t0 >= exp.duration:
        exp.finished = True
        return False
    if exp.t0 is None:
        exp.t0, exp.q_ref = t, q.copy()
    if locked:
        exp.aborted = "teleop lock"
    elif not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
        exp.aborted = "non-finite reading"
    elif np.max(np.abs(q - exp.q_ref)) > max_excursion:
        exp.aborted = f"slot {int(np.argmax(np.abs(q - exp.q_ref)))} moved more than {max_excursion} rad"
    elif np.max(np.abs(qd)) > max_speed:
        # a light joint whipped by its neighbours' motion shows spikes; a run away stays fast
        fast = getattr(exp, "fast_since", None)
        if fast is None:
            exp.fast_since = t
        elif t - fast >= FAST_FOR_S:
            exp.aborted = f"slot {int(np.argmax(np.abs(qd)))} faster than {max_speed} rad/s for {1e3 * FAST_FOR_S:.0f} ms"
    else:
        exp.fast_since = None
    return not exp.aborted
