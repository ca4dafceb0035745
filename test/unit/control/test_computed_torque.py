"""The baseline with the nominal model on the nominal simulator tracks to a closed-form tolerance."""
import numpy as np

from sim2real.control.computed_torque import ComputedTorque, HoldTerm
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


def test_hold_term_carries_a_payload_the_speed_cap_let_sag(jaco):
    """1.5 kg at the hand, unknown to the nominal model: the reference's speed cap limits the
    feedback at rest and a PD leaves a load's share to its error; the hold term (low-frequency
    gain x2) halves the sag (measured here: 63 -> 30 mrad)."""
    errs = {}
    for gain in (0.0, HoldTerm.GAIN):
        sim, ct = Simulator(jaco), ComputedTorque(NominalModel(jaco))
        ct.hold.k = gain * np.asarray(jaco.kp, float)
        sim.set_payload_mass(1.5)
        for _ in range(1500):
            q, qd, _ = sim.joint_state()
            sim.step(ct.torque(q, qd, jaco.home, np.zeros(jaco.n)))
        errs[gain] = float(np.max(np.abs(sim.joint_state()[0] - jaco.home)))
    assert errs[HoldTerm.GAIN] < 0.6 * errs[0.0], errs


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


def test_dynamics_are_those_of_the_full_forward_pass(jaco):
    """dynamics() runs only the stages of mj_forward that M, the bias and the passive forces come
    from: bit for bit what set_state's full mj_forward gives."""
    import mujoco
    m = NominalModel(jaco)
    rng = np.random.default_rng(0)
    d = m.dadr
    for _ in range(50):
        q, qd = jaco.home + rng.normal(size=jaco.n), 3 * rng.normal(size=jaco.n)
        M, h = m.dynamics(q, qd)
        m.set_state(q, qd)
        full = np.zeros((m.model.nv, m.model.nv))
        mujoco.mj_fullM(m.model, m.data, full)
        assert M.tobytes() == full[np.ix_(d, d)].tobytes()
        assert h.tobytes() == (m.data.qfrc_bias[d] - m.data.qfrc_passive[d]).tobytes()


def test_torque_is_the_written_law_bit_for_bit(jaco):
    """The law as the module docstring writes it, evaluated plainly, gives the very same torques."""
    from sim2real.control.reference import REF_SPEED
    ct = ComputedTorque(NominalModel(jaco))
    rng = np.random.default_rng(1)
    vmax = REF_SPEED * jaco.velocity_limit * jaco.safety.velocity_scale
    z = np.zeros(jaco.n)
    for k in range(100):
        q, qd = jaco.home + rng.normal(size=jaco.n), rng.normal(size=jaco.n)
        q_d, qd_d = q + 0.3 * rng.normal(size=jaco.n), rng.normal(size=jaco.n)
        if k % 10 == 0:
            qd[0] = -0.0
            qd_d[:] = 0.0
        if k % 3 == 0:      # at rest, asked to stay: the hold term builds
            qd[:], qd_d[:] = 0.01 * qd, 0.0
        qdd_d = rng.normal(size=jaco.n) if k % 2 else None
        tau = ct.torque(q, qd, q_d, qd_d, qdd_d)
        M, h = ct.m.dynamics(q, qd)
        v = np.clip(qd_d + jaco.kp / jaco.kd * (q_d - q), -vmax, vmax)
        a = (np.zeros(jaco.n) if qdd_d is None else qdd_d) + jaco.kd * (v - qd)
        # the hold term: toward HOLD_GAIN Kp (q_d - q) where joint and desired are at rest, else 0
        rest = (np.abs(qd) < HoldTerm.SLOW * vmax) & (np.abs(qd_d) < HoldTerm.SLOW * vmax)
        goal = np.where(rest, HoldTerm.GAIN * jaco.kp * (q_d - q), 0.0)
        z = np.clip(z + min(1.0, jaco.dt / HoldTerm.TAU_S) * (goal - z), -HoldTerm.MAX * jaco.kd * vmax,
                    HoldTerm.MAX * jaco.kd * vmax)
        a = a + z
        ref = np.clip(M @ a + h + ct.m.frictionloss * np.tanh(qd_d / ct.V_EPS), -jaco.effort_limit, jaco.effort_limit)
        assert tau.tobytes() == ref.tobytes()


def test_dynamics_kept_for_the_last_states_are_fresh_copies_and_follow_the_payload(jaco):
    m, ref = NominalModel(jaco), NominalModel(jaco)
    rng = np.random.default_rng(3)
    states = [(jaco.home + 0.2 * rng.standard_normal(jaco.n), rng.standard_normal(jaco.n)) for _ in range(3)]
    for q, qd in states + states[::-1] + states:          # hits and misses, in every order
        M, h = m.dynamics(q, qd)
        M0, h0 = ref._dynamics(q, qd)
        assert np.array_equal(M, M0) and np.array_equal(h, h0)
        M[:] = 0.0                                         # a caller that writes into its answer
        h[:] = 0.0
    q, qd = states[0]
    before = m.dynamics(q, qd)[1]
    m.set_payload_mass(1.0)                                # the model changes: the kept answers go
    after = m.dynamics(q, qd)[1]
    ref.set_payload_mass(1.0)
    assert np.array_equal(after, ref._dynamics(q, qd)[1]) and not np.allclose(after, before)
