"""Contract checks on a stream of /joint_states: names and order, rate, units, stamps, clock."""
from __future__ import annotations

import numpy as np

from sim2real.doctor.findings import OK, SUSPICIOUS, WRONG, Finding


CLOCK_SKEW_S = 0.1      # a stamp this far from /clock's time (sim time) is on another clock
WALL_LATE_S = 1.0       # a wall-time stamp this old (or in the future) when it arrives: a skewed clock


def check_contract(samples: list, robot, rate_hz: float | None = None,
                   clock: dict | None = None) -> tuple[list[Finding], list[str] | None]:
    """samples: [(recv_wall_s, stamp_s, names, q, qd, effort)], recv_wall_s the receiver's wall
    clock (time.time()). clock: what the receiver saw on /clock: {"messages": count, "offsets":
    [stamp - the newest /clock time, per state received after one]}; None when not watched.
    Returns (findings, reported arm order).

    The reported arm order (names as the driver lists them, arm joints only) is what the driver
    also accepts commands in, by the ros2_control convention the command topic follows.
    """
    out: list[Finding] = []
    if len(samples) < 10:
        return [Finding("joint_states", "-", WRONG, f"{len(samples)} messages", "a stream", "no /joint_states")], None
    names = list(samples[-1][2])
    arm = list(robot.joint_names)
    missing = [n for n in arm if n not in names]
    if missing:
        out.append(Finding("joint names", "-", WRONG, ",".join(names), ",".join(arm), f"missing {missing}"))
        return out, None
    order = [n for n in names if n in arm]
    if order != arm:
        out.append(Finding("joint order", "-", WRONG, ",".join(order), ",".join(arm),
                           "the driver reports (and takes commands) in another order: remap"))
    else:
        out.append(Finding("joint order", "-", OK, "config order", "config order"))

    recv = np.array([s[0] for s in samples])
    stamps = np.array([s[1] for s in samples])
    rate = (len(recv) - 1) / max(recv[-1] - recv[0], 1e-9)
    expect = rate_hz or robot.control_rate_hz
    out.append(Finding("rate", "-", OK if rate > 0.8 * expect else SUSPICIOUS, f"{rate:.0f} Hz", f"{expect:.0f} Hz",
                       "" if rate > 0.8 * expect else "slower than the control rate"))
    back = int(np.sum(np.diff(stamps) <= 0))
    out.append(Finding("stamps", "-", OK if back == 0 else WRONG, f"{back} non-increasing", "monotonic"))
    out.append(_clock(float(np.median(recv - stamps)), clock))

    idx = [names.index(n) for n in arm]
    q = np.array([np.asarray(s[3])[idx] for s in samples])
    qd = np.array([np.asarray(s[4])[idx] for s in samples]) if len(samples[0][4]) else np.zeros_like(q)
    for j, n in enumerate(arm):
        bad = []
        if np.any(np.abs(q[:, j]) > 4 * np.pi):
            bad.append("position beyond 4 pi: degrees or encoder ticks?")
        if np.any(np.abs(qd[:, j]) > 10 * robot.velocity_limit[j]):
            bad.append("velocity 10x the limit: deg/s or rpm?")
        if not np.all(np.isfinite(q[:, j])):
            bad.append("NaN/inf")
        out.append(Finding("units", n, WRONG if bad else OK, f"|q|max {np.max(np.abs(q[:, j])):.2f} rad",
                           "rad, rad/s", "; ".join(bad)))
    return out, order


def _clock(age_s: float, clock: dict | None) -> Finding:
    """Which clock the stamps are on, from what the driver publishes: /clock's time when it
    publishes /clock, else wall time (the receiver's)."""
    model = "wall time on hardware, /clock in simulation"
    if clock and clock.get("messages"):
        off = np.asarray(clock.get("offsets") or [np.nan])
        skew = float(np.nanmedian(np.abs(off))) if np.isfinite(off).any() else float("nan")
        if np.isfinite(skew) and skew <= CLOCK_SKEW_S:
            return Finding("clock", "-", OK, f"sim time (/clock, {clock['messages']} messages)", model)
        return Finding("clock", "-", WRONG, f"/clock published, stamps {skew:.3g} s off it", model,
                       "stamps are not on the /clock the driver publishes")
    where = "no /clock" if clock is not None else "/clock not watched"
    if abs(age_s) <= WALL_LATE_S:
        return Finding("clock", "-", OK, f"wall time ({where})", model, f"stamps {1e3 * age_s:.1f} ms old on arrival")
    status = WRONG if abs(age_s) > 1e3 else SUSPICIOUS
    return Finding("clock", "-", status, f"stamps {age_s:.3g} s from wall time ({where})", model,
                   "neither wall time nor a published /clock: bad stamps" if status == WRONG
                   else "clock skew between the driver and this machine")
