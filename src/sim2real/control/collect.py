"""Record the twin for learning: what `sim2real up --backend twin --record` records, in lockstep.

The baseline controller tracks an excitation trajectory (reaches and multi-sines, seeds apart
from the benchmark's) with Ornstein-Uhlenbeck torque noise on top (Christiano et al. 2016
collect with a preliminary controller plus noise). The noise is large (25% of the torque
limits) and decorrelates in 20 ms so that where the arm goes next varies independently of where
it is: with 5% noise the learned inverse model barely responded to its desired observation
(heavy-sticky, measured: sinusoid error 46 vs 22 mrad), and 180 s rather than 60 s covered the
poses of reaching moves (reach error 36 vs 178 mrad). The file has /joint_states and /effort_controller/commands
in the rosbag2 layout, log times in sim time: learners read it like any robot recording.
"""
from __future__ import annotations

import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.control.trajectories import excitation
from sim2real.data import cdr
from sim2real.data.mcap_io import McapRecorder
from sim2real.sim.twin import Twin, run_lockstep


def record_twin(robot, reality, path, seconds: float = 180.0, seed: int = 1, noise: float = 0.25,
                theta: float = 50.0) -> int:
    """Returns the number of messages written."""
    rng = np.random.default_rng(seed)
    nominal = NominalModel(robot)
    law = ComputedTorque(nominal)
    traj = excitation(nominal, seed, seconds)
    twin = Twin(robot, reality)
    sigma = noise * robot.effort_limit * np.sqrt(2 * theta)   # stationary std: noise x the limit
    ou = np.zeros(robot.n)
    rec = McapRecorder(path)
    js = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    cmd = rec.add_topic("/effort_controller/commands", "std_msgs/msg/Float64MultiArray")
    names = robot.joint_names

    def controller(stamp, q, qd, effort):
        nonlocal ou
        ou = ou - theta * ou * robot.dt + sigma * np.sqrt(robot.dt) * rng.standard_normal(robot.n)
        d = traj.sample(stamp)
        return law.torque(q, qd, d.q, d.qd, d.qdd) + ou

    def on_message(kind, t, values):
        ns = int(round(t * 1e9))
        if kind == "state":
            stamp, q, qd, eff = values
            rec.write(js, cdr.joint_state(stamp, names, q, qd, eff), ns)
        else:
            rec.write(cmd, cdr.float64_array(values), ns + 1)   # after the state it answers
    try:
        run_lockstep(twin, controller, seconds, on_message=on_message)
    finally:
        rec.close()
    return rec.count
