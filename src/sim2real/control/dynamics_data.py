"""Simulated transitions for the global dynamics prior (Fu et al. 2015 train it on prior data).

Each episode draws a randomized robot (config/randomization/ROBOT.yaml: masses, friction,
damping, armature, payload) and tracks an excitation trajectory with the baseline controller plus
Ornstein-Uhlenbeck torque noise, so the data covers torques the tracking alone would not.
Returned arrays: x = [q, qd] (N, 2n), u = joint torque applied (N, n), acc = (qd' - qd) / dt,
acc_nominal = what the nominal model predicts for (x, u): M^-1 (u - h) (the prior learns the rest).
"""
from __future__ import annotations

import numpy as np

from sim2real import paths
from sim2real.config_io import load_yaml
from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.safety.filter import SafetyFilter
from sim2real.control.trajectories import excitation
from sim2real.sim.reality import SCHEMA, parse_profile
from sim2real.sim.simulator import Simulator


def randomization(robot) -> dict:
    return load_yaml(paths.data_root() / "config" / "randomization" / f"{robot.name}.yaml")


def random_profile(robot, rng: np.random.Generator, ranges: dict):
    def draw(key, per_joint=True):
        lo, hi = ranges[key]
        return [float(v) for v in rng.uniform(lo, hi, robot.n)] if per_joint else float(rng.uniform(lo, hi))
    dyn = {"mass_scale": draw("mass_scale", False), "friction_scale": draw("friction_scale"),
           "damping_scale": draw("damping_scale"), "armature_scale": draw("armature_scale"),
           "payload": {"mass": draw("payload_mass", False), "offset": [0.0, 0.0, draw("payload_offset", False)]}}
    return parse_profile({"schema": SCHEMA, "name": "randomized", "robot": robot.name, "dynamics": dyn})


def simulate(robot, seconds: float, seed: int = 0, episode_s: float = 10.0, noise: float = 0.25,
             progress=None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ranges = randomization(robot)
    nominal = NominalModel(robot)
    law = ComputedTorque(nominal)
    safety = SafetyFilter(robot)   # as on the robot: over-speed is braked, limits are held
    dt, n = robot.dt, robot.n
    xs, us, accs, noms = [], [], [], []
    episodes = max(1, int(round(seconds / episode_s)))
    for ep in range(episodes):
        sim = Simulator(robot, random_profile(robot, rng, ranges))
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
