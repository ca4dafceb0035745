"""Turn the doctor's measurements into findings, a table, JSON and suggested corrections."""
from __future__ import annotations

import json
import math

import numpy as np
import yaml

from sim2real.doctor.findings import OK, SUSPICIOUS, WRONG, Finding, worst

GAIN_WRONG, GAIN_SUSPICIOUS = 0.15, 0.08
LATENCY_SUSPICIOUS_S = 0.005
LAG_SUSPICIOUS_S = 0.01
NOISE_SUSPICIOUS = 0.002


def joint_findings(ids, grav) -> list[Finding]:
    out = []
    for i in ids:
        flipped = i.name in grav["sign"] or i.gain < 0
        out.append(Finding("direction", i.name, WRONG if flipped else OK, "reversed" if flipped else "as model",
                           "as model", "reported and commanded with the opposite sense" if flipped else ""))
        if i.name in grav["observable_offsets"]:
            bad = i.name in grav["offset"]
            out.append(Finding("offset at rest", i.name, WRONG if bad else OK, f"{i.offset:+.4f} rad", "0",
                               "from the torque holding it against gravity"))
        elif abs(abs(i.gain) - 1.0) > GAIN_WRONG:
            out.append(Finding("offset at rest", i.name, SUSPICIOUS, "n/a", "0",
                               "not measurable while the torque gain is wrong: fix the gain, run again"))
        else:
            out.append(Finding("offset at rest", i.name, OK, "n/a", "0",
                               "gravity cannot tell at this pose: check against a camera"))
        dev = abs(abs(i.gain) - 1.0)
        st = WRONG if dev > GAIN_WRONG else SUSPICIOUS if dev > GAIN_SUSPICIOUS else OK
        out.append(Finding("torque gain", i.name, st, f"{abs(i.gain):.2f} (fit r2 {i.fit_r2:.2f})", "1.00",
                           "weak motor or command scale/units" if st != OK else ""))
        out.append(Finding("latency", i.name, SUSPICIOUS if i.latency_s > LATENCY_SUSPICIOUS_S else OK,
                           f"{1e3 * i.latency_s:.0f} ms", "0 ms", "command->motion, round trip"))
        out.append(Finding("actuator lag", i.name, SUSPICIOUS if i.lag_s > LAG_SUSPICIOUS_S else OK,
                           f"{1e3 * i.lag_s:.0f} ms", "0 ms"))
        out.append(Finding("sensor noise", i.name, SUSPICIOUS if i.noise > NOISE_SUSPICIOUS else OK,
                           f"{i.noise:.4f} rad", "0"))
    return out


def corrections(robot, order, ids, grav) -> dict:
    """Suggested corrections, schema sim2real/driver-corrections/v1 (driver adapter + randomization)."""
    c: dict = {"schema": "sim2real/driver-corrections/v1", "robot": robot.name}
    if order and list(order) != list(robot.joint_names):
        c["joint_order"] = list(order)
    sign = {i.name: -1 for i in ids if i.name in grav["sign"] or i.gain < 0}
    if sign:
        c["sign"] = sign
    if grav["offset"]:
        c["offset"] = {k: round(float(v), 4) for k, v in grav["offset"].items()}
    scale = {i.name: round(float(1.0 / abs(i.gain)), 3) for i in ids if abs(abs(i.gain) - 1) > GAIN_WRONG}
    if scale:
        c["command_scale"] = scale
    c["latency_s"] = round(float(np.median([i.latency_s for i in ids])), 4)
    c["actuator_lag_s"] = {i.name: float(i.lag_s) for i in ids}
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
