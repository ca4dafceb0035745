"""Contract checks on a stream of /joint_states: names and order, rate, units, stamps, clock.

Names: a driver that names the robot's joints differently but consistently (the robot's names
with a common prefix or suffix added or removed, e.g. Kinova's `j2s7s300_joint_1` for `joint_1`,
or one family of names whose trailing indices are the robot's) is a naming finding with the
mapping (`map_names`), which the corrections' `names:` carries to the driver adapter; names no
consistent mapping covers stay "missing", naming the unmatched ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    if any(n not in names for n in arm):
        m = map_names(names, arm)
        if m.mapping is None:
            note = "; ".join([f"missing {m.missing}"] * bool(m.missing)
                             + [f"unmatched driver names {m.extra}"] * bool(m.extra)
                             + [f"names map more than one way ({m.how})"] * bool(m.how))
            out.append(Finding("joint names", "-", WRONG, ",".join(names), ",".join(arm), note))
            return out, None
        wire = [n for n in names if n in m.mapping]
        out.append(Finding("joint names", "-", WRONG, ",".join(wire), ",".join(arm),
                           f"the driver names the joints differently ({m.how}): map names "
                           f"(corrections `names:`, driver -> robot)"))
        names = [m.mapping.get(n, n) for n in names]
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


@dataclass
class NameMatch:
    """How a driver's joint names map onto the robot's. mapping: {driver name: robot name} covering
    every robot joint one-to-one ({} when the names are the robot's), None when no consistent
    mapping does; how: which rule mapped them; missing / extra: the robot names nothing maps to
    and the driver names left over, by the rule that mapped the most (or plain comparison)."""
    mapping: dict[str, str] | None
    how: str = ""
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


_INDEX = re.compile(r"^(.*?)(\d+)$")


def map_names(driver_names, robot_names) -> NameMatch:
    """The one consistent mapping of the driver's names (extra joints, e.g. fingers, allowed) onto
    all of the robot's: names as they are; the robot's with one common prefix or suffix added or
    removed; or, where each robot name ends in a distinct index, the one family of driver names
    (one stem) carrying those indices, one name each. Two rules that map differently: no mapping."""
    drv, arm = list(dict.fromkeys(driver_names)), list(robot_names)
    if all(n in drv for n in arm):
        return NameMatch({}, "as configured")
    found: dict[tuple, tuple[str, dict]] = {}
    best: dict[str, str] = {n: n for n in arm if n in drv}    # robot -> driver, the most any rule maps

    def consider(how: str, to_robot: dict[str, str]) -> None:
        nonlocal best
        inv = {}
        for d, r in to_robot.items():
            if r in arm and d in drv:
                inv.setdefault(r, []).append(d)
        part = {r: ds[0] for r, ds in inv.items() if len(ds) == 1}
        if len(part) > len(best):
            best = part
        if len(part) == len(arm) and len(inv) == len(arm) and all(len(ds) == 1 for ds in inv.values()):
            m = {d: r for r, d in part.items()}
            found.setdefault(tuple(sorted(m.items())), (how, m))

    affixes = set()
    for d in drv:
        for r in arm:
            if d != r and d.endswith(r):
                affixes.add(("prefix added", d[:-len(r)]))
            if d != r and d.startswith(r):
                affixes.add(("suffix added", d[len(r):]))
            if d != r and r.endswith(d):
                affixes.add(("prefix removed", r[:-len(d)]))
            if d != r and d and r.startswith(d):
                affixes.add(("suffix removed", r[len(d):]))
    for kind, a in sorted(affixes):
        if not a:
            continue
        if kind == "prefix added":
            m = {d: d[len(a):] for d in drv if d.startswith(a)}
        elif kind == "suffix added":
            m = {d: d[:-len(a)] for d in drv if d.endswith(a)}
        elif kind == "prefix removed":
            m = {d: a + d for d in drv}
        else:
            m = {d: d + a for d in drv}
        consider(f"{kind} '{a}'", m)

    arm_idx = [_INDEX.match(n) for n in arm]
    if all(arm_idx) and len({int(x.group(2)) for x in arm_idx}) == len(arm):
        by_index = {int(x.group(2)): n for x, n in zip(arm_idx, arm)}
        stems: dict[str, dict[int, list[str]]] = {}
        for d in drv:
            x = _INDEX.match(d)
            if x:
                stems.setdefault(x.group(1), {}).setdefault(int(x.group(2)), []).append(d)
        for stem, idx in sorted(stems.items()):
            if set(idx) >= set(by_index) and all(len(idx[i]) == 1 for i in by_index):
                consider(f"by trailing index, '{stem}N'", {idx[i][0]: by_index[i] for i in by_index})

    if len(found) == 1:
        how, m = next(iter(found.values()))
        return NameMatch(dict(sorted(m.items(), key=lambda kv: arm.index(kv[1]))), how)
    missing = [n for n in arm if n not in best]
    extra = [d for d in drv if d not in best.values() and d not in arm]
    how = "; ".join(h for h, _ in found.values())       # more than one mapping: say which
    return NameMatch(None, how, missing if not found else [], extra if not found else [])


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
