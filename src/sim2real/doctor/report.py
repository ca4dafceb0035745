"""Turn the doctor's measurements into findings, a table, JSON and suggested corrections."""
from __future__ import annotations

import json
import math

import numpy as np
import yaml

from sim2real.doctor.findings import OK, SUSPICIOUS, UNKNOWN, WRONG, Finding, worst

GAIN_WRONG, GAIN_SUSPICIOUS = 0.15, 0.08
LATENCY_SUSPICIOUS_S = 0.015     # round trip: 8 ms is a good driver, 20-40 ms a slow one (the Jaco 2's 100 Hz API)
LAG_SUSPICIOUS_S = 0.01
NOISE_SUSPICIOUS = 0.002
SPREAD_SUSPICIOUS_S = 0.012      # pulses of one joint disagreeing on the round trip by more: timing unreliable


def loop_findings(rec) -> list[Finding]:
    """The loop's round trip, from the probe (before the hold was sized to it), with its spread."""
    if rec is None or rec.get("delay_s") is None:
        return [Finding("latency", "-", UNKNOWN, "not measured", "0 ms",
                        "the driver reports no torque: the hold stayed sized for a 45 ms loop")]
    d = 1e3 * rec["delay_s"]
    probes = [p for p in rec["probes"] if not p["disturbed"] and np.isfinite(p["delay_s"])]
    spread = 1e3 * float(np.ptp([p["delay_s"] for p in probes])) if probes else float("nan")
    redone = sum(1 for p in rec["probes"] if p["disturbed"])
    note = f"command -> torque sensed, round trip; {len(probes)} probes, spread {spread:.0f} ms"
    if redone:
        note += f"; {redone} disturbed, repeated"
    return [Finding("latency", "-", SUSPICIOUS if rec["delay_s"] > LATENCY_SUSPICIOUS_S else OK, f"{d:.0f} ms",
                    "0 ms", note)]


def joint_findings(ids, grav) -> list[Finding]:
    out = []

    def coupled(name):
        partner = grav.get("coupled", {}).get(name)
        return (f"; gravity does not load it: its sense against {partner}'s, from how the arm's inertia "
                f"couples them in the pulses") if partner else ""
    alt = grav.get("alternative")
    if alt is not None:
        # the arm's mirror image (joint_2, joint_4 and joint_6 all reversed on the Jaco) holds
        # with the same torques at every pose: the explanation with fewer reversals is reported
        alts = grav.get("alternatives") or [alt]
        chosen = ", ".join(sorted(grav.get("sign", []))) or "none"
        out.append(Finding("direction", "-", UNKNOWN,
                           f"reported: [{chosen}] reversed; fit as well: "
                           + " or ".join("[" + (", ".join(a) or "none") + "]" for a in alts),
                           "none reversed",
                           "the arm's mirror image or reflection holds with the same torques (and pulses): the "
                           "explanation with the fewest reversals is reported and the per-joint directions "
                           "below assume it; only a camera or a look at the arm tells them apart",
                           alternatives=[sorted(grav.get("sign", []))] + [list(a) for a in alts]))
    for i in ids:
        if i.name in grav.get("tied", []):
            out.append(Finding("direction", i.name, UNKNOWN, "reversed or not", "as model",
                               "two explanations with as many reversals fit as well: check it against a camera"))
        elif i.name in grav["sign"] or i.gain < 0:
            out.append(Finding("direction", i.name, WRONG, "reversed", "as model",
                               "reported and commanded with the opposite sense" + coupled(i.name)))
        elif i.name in grav.get("observable_signs", [i.name]):
            out.append(Finding("direction", i.name, OK, "as model", "as model", coupled(i.name).lstrip("; ")))
        else:
            out.append(Finding("direction", i.name, UNKNOWN, "n/a", "as model",
                               "gravity loads it at none of the poses tried: check it against a camera"))
        if i.name in grav["observable_offsets"]:
            bad = i.name in grav["offset"]
            out.append(Finding("offset at rest", i.name, WRONG if bad else OK, f"{i.offset:+.4f} rad", "0",
                               "from the torque holding it against gravity"))
        else:
            out.append(Finding("offset at rest", i.name, UNKNOWN, "n/a", "0",
                               "gravity loads it at none of the poses tried: check it against a camera"))
        if not np.isfinite(i.gain):
            out.append(Finding("torque gain", i.name, UNKNOWN, "n/a", "1.00", "no pulse could be read"))
            continue
        dev = abs(abs(i.gain) - 1.0)
        st = WRONG if dev > GAIN_WRONG else SUSPICIOUS if dev > GAIN_SUSPICIOUS else OK
        note = "weak motor or command scale/units" if st != OK else ""
        if i.fit_r2 <= 0 and st != OK:      # no pulse's response fitted: not a verdict
            st, note = SUSPICIOUS, "no pulse's torque response fitted the loop (timing disturbed): run again"
        elif st == WRONG and np.isfinite(i.probe_gain) and abs(abs(i.probe_gain) - 1.0) <= GAIN_SUSPICIOUS:
            # two measurements of one motor that disagree are not a verdict
            st, note = SUSPICIOUS, f"the probe read {abs(i.probe_gain):.2f}: the two disagree, run again"
        out.append(Finding("torque gain", i.name, st, f"{abs(i.gain):.2f} (fit r2 {i.fit_r2:.2f})", "1.00", note))
        spread = "" if not np.isfinite(i.latency_spread_s) else f", spread {1e3 * i.latency_spread_s:.0f} ms"
        note = f"{i.pulses} pulses{spread}" + (f", {i.repeated} repeated (timing disturbed)" if i.repeated else "")
        unsure = np.isfinite(i.latency_spread_s) and i.latency_spread_s > SPREAD_SUSPICIOUS_S
        out.append(Finding("round trip", i.name, SUSPICIOUS if unsure else OK, f"{1e3 * i.latency_s:.0f} ms", "-",
                           note + ("; pulses disagree: run again on a quieter machine" if unsure else "")))
        out.append(Finding("actuator lag", i.name, SUSPICIOUS if i.lag_s > LAG_SUSPICIOUS_S else OK,
                           f"{1e3 * i.lag_s:.0f} ms", "0 ms"))
        out.append(Finding("sensor noise", i.name, SUSPICIOUS if i.noise > NOISE_SUSPICIOUS else OK,
                           f"{i.noise:.4f} rad", "0"))
    return out


def naming_corrections(robot, order, names: dict | None = None) -> dict:
    """The corrections the contract alone gives (doctor/adapter.py's format): `names` (driver name
    -> robot name, contract.map_names's mapping) and `joint_order` (robot names, the driver's
    order), each only where it differs from the config."""
    c: dict = {"schema": "sim2real/driver-corrections/v1", "robot": robot.name}
    if names:
        c["names"] = {str(k): str(v) for k, v in names.items()}
    if order and list(order) != list(robot.joint_names):
        c["joint_order"] = list(order)
    return c


def corrections(robot, order, ids, grav, delay_s: float | None = None, names: dict | None = None) -> dict:
    """Suggested corrections, schema sim2real/driver-corrections/v1 (driver adapter + randomization);
    order: the robot's names in the driver's order; names: the driver's names -> the robot's
    (contract.map_names), when they differ."""
    c = naming_corrections(robot, order, names)
    sign = {i.name: -1 for i in ids if i.name in grav["sign"] or i.gain < 0}
    if sign:
        c["sign"] = sign
    if grav["offset"]:
        c["offset"] = {k: round(float(v), 4) for k, v in grav["offset"].items()}
    scale = {i.name: round(float(1.0 / abs(i.gain)), 3) for i in ids
             if np.isfinite(i.gain) and abs(abs(i.gain) - 1) > GAIN_WRONG}
    if scale:
        c["command_scale"] = scale
    lat = [i.latency_s for i in ids if np.isfinite(i.latency_s)]
    c["latency_s"] = round(float(delay_s if delay_s is not None else np.median(lat) if lat else 0.0), 4)
    c["actuator_lag_s"] = {i.name: float(i.lag_s) for i in ids if np.isfinite(i.lag_s)}
    c["position_noise"] = {i.name: round(float(i.noise), 5) for i in ids}
    return c


def table(findings) -> str:
    rows = [("check", "joint", "status", "measured", "model", "note")]
    rows += [(f.check, f.joint, f.status, f.measured, f.model, f.note) for f in findings]
    w = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(r[k].ljust(w[k]) for k in range(5)) + "  " + r[5] for r in rows]
    return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])


def to_json(findings, corr, aborted) -> str:
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        return o
    return json.dumps({"status": worst(findings) if not aborted else WRONG, "aborted": aborted,
                       "findings": [f.as_dict() for f in findings], "corrections": corr},
                      indent=2, default=clean)


def to_yaml(corr) -> str:
    return yaml.safe_dump(corr, sort_keys=False)
