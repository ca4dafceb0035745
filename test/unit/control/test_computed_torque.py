"""The baseline with the nominal model on the nominal simulator tracks to a closed-form tolerance."""
import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.nominal_model import NominalModel
from sim2real.control.trajectories import MinimumJerk
from sim2real.policy.reach_planner import ReachPlanner
from sim2real.sim.simulator import Simulator


def test_holds_home_against_gravity(jaco):
    sim, ct = Simulator(jaco), ComputedTorque(NominalModel(jaco))
    for _ in range(500):
        q, qd, _ = sim.joint_state()
        sim.step(ct.torque(q, qd, jaco.home, np.zeros(jaco.n)))
    assert np.max(np.abs(sim.joint_state()[0] - jaco.home)) < 1e-3


def test_tracks_minimum_jerk_move(jaco):
    sim, ct = Simulator(jaco), ComputedTorque(NominalModel(jaco))
    traj = MinimumJerk(jaco.home, jaco.home + 0.3, 0.0, 1.5)
    worst = 0.0
    for _ in range(1000):
        t = sim.time
        q, qd, _ = sim.joint_state()
        qd_, vd, ad = traj.sample(t)
        worst = max(worst, float(np.max(np.abs(q - qd_))))
        sim.step(ct.torque(q, qd, qd_, vd, ad))
    assert worst < 0.01   # rad, through the whole move


def test_minimum_jerk_boundary_conditions():
    traj = MinimumJerk(np.zeros(2), np.ones(2), 1.0, 2.0)
    q0, v0, a0 = traj.sample(1.0)
    q1, v1, a1 = traj.sample(3.0)
    qm, vm, _ = traj.sample(2.0)
    np.testing.assert_allclose([q0, v0, a0, v1, a1], 0, atol=1e-12)
    np.testing.assert_allclose(q1, 1.0)
    np.testing.assert_allclose(vm, 1.875 / 2.0)   # peak speed 1.875 dq / T


def test_planner_ik_reaches_workspace(jaco):
    m = NominalModel(jaco)
    pl = ReachPlanner(m)
    target = np.array([0.45, 0.2, 0.3])
    pl.set_target(target, jaco.home, 0.0)
    q_end = pl.traj.sample(1e3)[0]
    assert np.linalg.norm(m.ee_position(q_end) - target) < 1e-3
    assert np.all(q_end <= jaco.position_upper) and np.all(q_end >= jaco.position_lower)
