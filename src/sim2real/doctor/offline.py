"""The doctor's experiment against the twin without ROS: what the doctor node does, over the twin's
lockstep stepper and the safety filter (as the graph's filter node), for tests and benchmarks.

Nothing is commanded while the experiment listens (the twin's brakes hold, as they do before the
node's first command); after it ends the twin's own deadline hold takes over.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.doctor.excitation import Excitation, make_excitation
from sim2real.safety.filter import SafetyFilter
from sim2real.sim.reality import NOMINAL, RealityProfile
from sim2real.sim.twin import Twin


def run_offline(robot, reality: RealityProfile = NOMINAL, max_s: float = 60.0) -> tuple[list, list[str], Excitation, float]:
    """Run the experiment to its end (or max_s sim seconds). Returns (samples as check_contract
    takes them, the arm joints in the driver's order, the experiment, the largest excursion from
    its reference while it commanded, rad)."""
    twin = Twin(robot, reality)
    model = NominalModel(robot)
    safety = SafetyFilter(robot)
    names = list(twin.wire_joints)
    order = [n for n in names if n in robot.joint_names]
    idx = np.array([names.index(n) for n in order])
    samples, exc, worst = [], None, 0.0
    for _ in range(int(round(max_s / twin.dt))):
        for stamp, q, qd, eff in twin.measure()[-1:]:
            if exc is not None and (exc.finished or exc.aborted):
                break
            samples.append((stamp, stamp, names, q, qd, eff))
            if exc is None:
                exc = make_excitation(robot, model, order, q[idx], sim_time=True)
            cmd = exc.command(stamp, q[idx], qd[idx], False, eff[idx])
            if cmd is None:
                continue
            worst = max(worst, float(np.max(np.abs(q[idx] - exc.q_ref))))
            wire = np.zeros(robot.n)
            wire[idx] = cmd
            twin.command(safety.filter(wire, q, qd)[0])
        if exc is not None and (exc.finished or exc.aborted):
            break
        twin.step()
    return samples, order, exc, worst
