#!/usr/bin/env python3
"""`sim2real doctor` on fault fixtures, against the truth each fixture holds.

For each fixture (default: test/fixtures/reality/combined-*.yaml and clean-8ms.yaml) run the
doctor --repeats times (real-time twin unless --lockstep; each run its own process) and compare
what it flags (status wrong or suspicious) with the faults the profile puts in:
    found   faults flagged,   missed  faults not flagged (or "cannot tell"),
    false   'wrong' verdicts the profile does not explain (suspicious ones are listed as notes),
    exit    the doctor's exit code.
Prints a table per run and a summary; --json prints the same figures as JSON. Asserts nothing.
On a machine that is also busy with other work this is the doctor "under load".
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.robots import load_robot
from sim2real.sim.reality import load_profile

GAIN, LATENCY_S, LAG_S, NOISE = 0.15, 0.015, 0.01, 0.002   # the doctor's thresholds (doctor/report.py)


def truth(profile_path) -> dict:
    """{(check, joint): why} the doctor should flag for this profile."""
    prof = load_profile(profile_path)
    robot = load_robot(prof.data.get("robot", "jaco"))
    r = prof.resolve(robot)
    names = list(robot.joint_names)
    out = {}
    if list(r.joint_order) != list(range(robot.n)):
        out[("joint order", "-")] = "order " + ",".join(names[i] for i in r.joint_order)
    for j, n in enumerate(names):
        if r.sign[j] < 0:
            out[("direction", n)] = "reversed"
        off = r.offset[j] + r.sign[j] * r.position_bias[j]
        if abs(off) > 0.015:
            out[("offset at rest", n)] = f"{off:+.3f} rad"
        g = r.command_scale[j] * r.motor_strength[j]
        if abs(g - 1) > GAIN:
            out[("torque gain", n)] = f"gain {g:.2f}"
        if r.actuator_lag[j] > LAG_S:
            out[("actuator lag", n)] = f"{1e3 * r.actuator_lag[j]:.0f} ms"
        if r.position_noise[j] > NOISE:
            out[("sensor noise", n)] = f"{r.position_noise[j]} rad"
    rt = r.latency_command + r.latency_state
    if rt > LATENCY_S:
        out[("latency", "-")] = f"{1e3 * rt:.0f} ms round trip"
    return out


def compare(report: dict, expected: dict) -> dict:
    """found: faults flagged (wrong, or suspicious where the doctor's verdict is suspicious:
    latency, lag, noise); false: 'wrong' verdicts the profile does not explain; notes: suspicious
    ones it does not explain (they do not fail a run: its exit code counts 'wrong' only)."""
    flagged = {(f["check"], f["joint"]): f for f in report["findings"] if f["status"] in ("wrong", "suspicious")}
    unknown = {(f["check"], f["joint"]) for f in report["findings"] if f["status"] == "cannot tell"}
    found = sorted(k for k in expected if k in flagged)
    missed = sorted(k for k in expected if k not in flagged)
    false = sorted(k for k in flagged if k not in expected and flagged[k]["status"] == "wrong")
    notes = sorted(k for k in flagged if k not in expected and flagged[k]["status"] == "suspicious")
    lat = next((f["measured"] for f in report["findings"] if f["check"] == "latency" and f["joint"] == "-"), "-")
    return {"found": found, "missed": missed, "false": false, "cannot_tell": sorted(unknown & set(expected)),
            "latency": lat, "aborted": report.get("aborted"),
            "false_detail": [f"{k[0]} {k[1]}: {flagged[k]['measured']} {flagged[k]['note']}" for k in false],
            "notes": [f"{k[0]} {k[1]}: {flagged[k]['measured']} {flagged[k]['note']}" for k in notes]}


def run_doctor(fixture: Path, lockstep: bool, timeout: float) -> tuple[int, dict | None, float]:
    cmd = [sys.executable, "-m", "sim2real.cli", "doctor", "--backend", "twin", "--reality", str(fixture), "--json"]
    if lockstep:
        cmd.append("--lockstep")
    # a DDS domain of its own: another graph on this host (a test, a colleague's bench) would
    # otherwise answer on the same /joint_states and /controller/effort
    env = {**os.environ, "ROS_DOMAIN_ID": str(random.randint(101, 200))}
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    try:
        rep = json.loads(r.stdout)
    except json.JSONDecodeError:
        rep = None
    return r.returncode, rep, time.monotonic() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fixtures", nargs="*", help="reality profiles (default: the combined and clean-8ms fixtures)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lockstep", action="store_true", help="lockstep twin (deterministic; not 'under load')")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    root = paths.data_root() / "test" / "fixtures" / "reality"
    fixtures = [Path(f) for f in a.fixtures] or sorted(root.glob("combined-*.yaml")) + [root / "clean-8ms.yaml"]
    rows = []
    for fx in fixtures:
        exp = truth(fx)
        for k in range(a.repeats):
            rc, rep, wall = run_doctor(fx, a.lockstep, a.timeout)
            row = {"fixture": fx.stem, "run": k + 1, "exit": rc, "wall_s": round(wall, 1),
                   "truth": sorted(f"{c} {j}" for c, j in exp)}
            if rep is None:
                row.update({"found": [], "missed": sorted(exp), "false": [], "error": "no report"})
            else:
                row.update(compare(rep, exp))
            rows.append(row)
            if not a.json:
                print(f"{fx.stem:12s} run {k + 1}: exit {rc}  found {len(row['found'])}/{len(exp)}  "
                      f"false {len(row['false'])}  latency {row.get('latency', '-')}  ({wall:.0f} s)"
                      + (f"  aborted: {row['aborted']}" if row.get("aborted") else ""), flush=True)
                unknown = {tuple(u) for u in row.get("cannot_tell", [])}
                for m in row["missed"]:
                    said = "reported as cannot tell" if tuple(m) in unknown else "not flagged"
                    print(f"    missed: {m[0]} {m[1]} ({exp[m]}; {said})")
                for f in row.get("false_detail", []):
                    print(f"    false:  {f}")
                for f in row.get("notes", []):
                    print(f"    note (suspicious): {f}")
    if a.json:
        print(json.dumps(rows, indent=1, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
    else:
        print("\nfixture       runs  all found  no false alarm  exit as expected")
        for fx in fixtures:
            rs = [r for r in rows if r["fixture"] == fx.stem]
            want = 1 if truth(fx) else 0
            print(f"{fx.stem:12s}  {len(rs):4d}  {sum(not r['missed'] for r in rs):9d}  "
                  f"{sum(not r['false'] for r in rs):14d}  {sum(r['exit'] == want for r in rs):16d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
