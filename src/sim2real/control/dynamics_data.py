"""Simulated transitions for the global dynamics prior (Fu et al. 2015 train it on prior data).

Each episode draws a randomized robot (sim/randomize.py from config/randomization/ROBOT.yaml)
and tracks an excitation trajectory with the baseline controller plus
Ornstein-Uhlenbeck torque noise, so the data covers torques the tracking alone would not.
Returned arrays: x = [q, qd] (N, 2n), u = joint torque applied (N, n), acc = (qd' - qd) / dt,
acc_nominal = what the nominal model predicts for (x, u): M^-1 (u - h) (the prior learns the rest).
"""
from __future__ import annotations

import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.safety.filter import SafetyFilter
from sim2real.control.trajectories import excitation
from sim2real.sim.randomize import load_randomization
from sim2real.sim.simulator import Simulator


def simulate(robot, seconds: float, seed: int = 0, episode_s: float = 10.0, noise: float = 0.25,
             progress=None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    randomization = load_randomization(robot)
    nominal = NominalModel(robot)
    law = ComputedTorque(nominal)
    safety = SafetyFilter(robot)   # as on the robot: over-speed is braked, limits are held
    dt, n = robot.dt, robot.n
    xs, us, accs, noms = [], [], [], []
    episodes = max(1, int(round(seconds / episode_s)))
    for ep in range(episodes):
        sim = Simulator(robot, randomization.sample(robot, rng))
        traj = excitation(nominal, int(rng.integers(1 << 30)), episode_s)
        ou = np.zeros(n)
        theta = 50.0   # 1/s: decorrelates in ~20 ms, so torque varies independently of the state
        sigma = noise * robot.effort_limit * np.sqrt(2 * theta)
        for _ in range(int(episode_s / dt)):
            q, qd, _ = sim.joint_state()
            d = traj.sample(sim.time)
            ou += -theta * ou * dt + sigma * np.sqrt(dt) * rng.standard_normal(n)
            tau, _ = safety.filter(law.torque(q, qd, d.q, d.qd, d.qdd) + ou, q, qd)
            sim.step(tau)
            q1, qd1, eff = sim.joint_state()
            if not np.all(np.isfinite(qd1)) or np.any(np.abs(qd1) > 8 * robot.velocity_limit):
                break   # a randomized robot that ran away: drop the rest of the episode
            xs.append(np.concatenate([q, qd]))
            us.append(eff)
            accs.append((qd1 - qd) / dt)
            M, h = nominal.dynamics(q, qd)
            noms.append(np.linalg.solve(M, eff - h))
        if progress:
            progress(ep + 1, episodes)
    return {"x": np.array(xs), "u": np.array(us), "acc": np.array(accs), "acc_nominal": np.array(noms)}
