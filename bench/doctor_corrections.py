#!/usr/bin/env python3
"""Does applying the doctor's corrections make the baseline track as on a fault-free driver?

For each fault fixture: run `sim2real doctor` (twin, lockstep) to get corrections, then reach two
targets on the real-time twin with and without them; print the end-effector error (cm) at the end
of each target's window. Prints figures, asserts nothing. Each graph runs in its own process.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from sim2real import paths

REACH = """
import sys, numpy as np
from sim2real.graph import build_graph
from sim2real.ros.compose import Composition
prof, corr = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
with Composition(build_graph('jaco', 'twin', prof, camera=False, targets=2, task_seed=3, corrections=corr)) as g:
    d = g.nodes['driver']
    errs = []
    for wait in (3.8, 4.0):   # targets switch every 4 s; read just before each switch
        g.spin_for(wait)
        errs.append(100 * float(np.linalg.norm(d.sim.ee_position() - d.sim.target())))
print('ERR', ' '.join(f'{e:.2f}' for e in errs))
"""


def reach(profile, corrections=None):
    args = [sys.executable, "-c", REACH, str(profile)] + ([str(corrections)] if corrections else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    return next((ln[4:] for ln in out.splitlines() if ln.startswith("ERR ")), "failed")


def main():
    fixtures = paths.data_root() / "test" / "fixtures" / "reality"
    tmp = Path(tempfile.mkdtemp())
    print(f"{'fixture':16s} {'no corrections (cm)':22s} {'with corrections (cm)':22s}")
    for name in ("clean", "swap", "sign", "offset", "weak", "latency"):
        prof = fixtures / f"{name}.yaml"
        corr = tmp / f"{name}.yaml"
        subprocess.run([sys.executable, "-m", "sim2real.cli", "doctor", "--lockstep", "--reality", str(prof),
                        "--out", str(corr)], capture_output=True, timeout=300)
        with_c = reach(prof, corr) if corr.exists() else "no corrections written"
        print(f"{name:16s} {reach(prof):22s} {with_c:22s}")


if __name__ == "__main__":
    main()
