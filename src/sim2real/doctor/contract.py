"""Contract checks on a stream of /joint_states: names and order, rate, units, stamps, clock."""
from __future__ import annotations

import numpy as np

from sim2real.doctor.findings import OK, SUSPICIOUS, WRONG, Finding


def check_contract(samples: list, robot, rate_hz: float | None = None) -> tuple[list[Finding], list[str] | None]:
    """samples: [(recv_wall_s, stamp_s, names, q, qd, effort)]. Returns (findings, reported arm order).

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
    lag = float(np.median(recv - stamps))
    clock = "sim time (/clock)" if abs(lag) > 1e3 else "wall time"
    out.append(Finding("clock", "-", OK, clock, "wall time on hardware, /clock in simulation"))

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
