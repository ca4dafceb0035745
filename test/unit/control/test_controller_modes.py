"""Controller modes (issue 3): bad input gets a safe, bounded torque and a status; learned modes
refuse wrong checkpoints; the adaptive mode beats the baseline where the model is wrong."""
import json
import shutil

import numpy as np
import pytest

from sim2real.control import trajectories as T
from sim2real.eval.benchmark import run_episode
from sim2real.control.collect import record_twin
from sim2real.control.inverse_dynamics import dataset_from_mcap
from sim2real.learn.networks import NumpyMLP
from sim2real.control.modes import make_mode
from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired, ReferenceModel
from sim2real.control.train import train_inverse_dynamics
from sim2real.errors import ConfigError
from sim2real.robots import load_robot
from sim2real.sim.reality import SCHEMA, parse_profile
from sim2real.sim.simulator import Simulator

jaco = load_robot("jaco")
HOME = jaco.home
STILL = Desired(HOME.copy(), np.zeros(7))
ADAPTIVE = ["local_linear", "nn_prior_lqr"]


def feed(mode, states, efforts=None, t0=0.0):
    out = []
    for i, (q, qd) in enumerate(states):
        out.append(mode.command(t0 + i * jaco.dt, q, qd, STILL, None if efforts is None else efforts[i]))
    return out


@pytest.mark.parametrize("name", ADAPTIVE)
def test_nan_state_gives_zero_torque_and_says_so(name):
    mode = make_mode(name, jaco)
    feed(mode, [(HOME, np.zeros(7))] * 5)
    q = HOME.copy()
    q[2] = np.nan
    tau = mode.command(5 * jaco.dt, q, np.zeros(7), STILL)
    assert np.all(tau == 0) and "non-finite" in mode.status
    tau = mode.command(6 * jaco.dt, HOME, np.zeros(7), STILL)   # and it recovers on good data
    assert np.all(np.isfinite(tau)) and np.all(np.abs(tau) <= jaco.effort_limit)


@pytest.mark.parametrize("name", ADAPTIVE)
def test_no_excitation_keeps_the_prior(name):
    """The same state over and over (nothing moves, nothing commanded differs): finite torques
    close to the nominal gravity hold, never wild."""
    mode = make_mode(name, jaco)
    M, h = NominalModel(jaco).dynamics(HOME, np.zeros(7))
    taus = feed(mode, [(HOME, np.zeros(7))] * 200, efforts=[h] * 200)
    assert all(np.all(np.isfinite(t)) and np.all(np.abs(t) <= jaco.effort_limit) for t in taus)
    np.testing.assert_allclose(taus[-1], h, atol=0.1 * jaco.effort_limit.max())


@pytest.mark.parametrize("name", ADAPTIVE)
def test_stuck_joint_is_reported_and_torque_stays_bounded(name):
    """joint_2 is blocked 0.3 rad from where it is asked to go: the fit sees a huge residual; the
    mode must say so and keep every command within the limits, bare and under its guard. The guard
    does not take over: the baseline, on the same stuck joint, would keep the same error (its
    envelope is what the baseline would keep, guard.BaselineErrorModel); with that prediction off
    (the absolute envelope alone) it does."""
    mode = make_mode(name, jaco, guard=False)
    q = HOME.copy()
    q[1] -= 0.3
    _, h = NominalModel(jaco).dynamics(q, np.zeros(7))
    statuses, taus = [], []
    prev = h
    for i in range(300):
        tau = mode.command(i * jaco.dt, q, np.zeros(7), STILL, prev)   # the joint measures what it is given
        taus.append(tau)
        statuses.append(mode.status)
        prev = tau
    assert all(np.all(np.abs(t) <= jaco.effort_limit + 1e-9) for t in taus)
    assert any("stuck joint" in s or "fallback" in s for s in statuses)
    for predict in (True, False):
        guarded, prev = make_mode(name, jaco), h
        if not predict:
            guarded._pred = None
        for i in range(20):
            prev = guarded.command(i * jaco.dt, q, np.zeros(7), STILL, prev)
            assert np.all(np.abs(prev) <= jaco.effort_limit + 1e-9)
        if predict:
            assert guarded.trips == 0 and ("stuck joint" in guarded.status or "fallback" in guarded.status)
        else:
            assert guarded.status.startswith("guard: tracking error")


def test_adaptive_mode_beats_the_baseline_when_the_model_is_wrong():
    """On a heavier, stickier robot with a payload, holding a pose: the online model closes most
    of the baseline's error (a functional check; the benchmark prints the figures)."""
    prof = parse_profile({"schema": SCHEMA, "seed": 1, "dynamics": {
        "payload": {"mass": 0.8}, "mass_scale": 1.1, "friction_scale": 2.0, "damping_scale": 1.5}})
    kin = NominalModel(jaco)
    traj = T.payload_hold(kin, mass=0.5, t_load=1.0, duration=2.0)
    base = run_episode(jaco, prof, make_mode("computed_torque", jaco), traj, kin)
    ll = run_episode(jaco, prof, make_mode("local_linear", jaco), traj, kin)
    assert ll.joint_rms < 0.5 * base.joint_rms
    after = base.t >= base.payload_t     # the payload appears: the online model keeps the pose better
    assert np.sqrt(np.mean(ll.err[after] ** 2)) < 0.5 * np.sqrt(np.mean(base.err[after] ** 2))


def test_reference_rollout_starts_with_the_one_step_target():
    ref = ReferenceModel(jaco.kp, jaco.kd, jaco.dt)
    q, qd = HOME + 0.01, np.full(7, 0.1)
    d = Desired(HOME, np.zeros(7), np.zeros(7))
    np.testing.assert_allclose(ref.rollout(q, qd, d, 3)[1], ref.next_state(q, qd, d))


def test_mlp_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    net = NumpyMLP([(rng.normal(size=(16, 5)), rng.normal(size=16)), (rng.normal(size=(16, 16)), rng.normal(size=16)),
                    (rng.normal(size=(3, 16)), rng.normal(size=3))],
                   rng.normal(size=5), rng.uniform(1, 2, 5), rng.normal(size=3), rng.uniform(1, 2, 3))
    x = rng.normal(size=5)
    y, J = net.value_and_jacobian(x)
    num = np.array([(net(x + 1e-3 * e) - net(x - 1e-3 * e)) / 2e-3 for e in np.eye(5)]).T   # float32 net
    np.testing.assert_allclose(J, num, rtol=1e-3, atol=1e-3 * np.abs(num).max())
    np.testing.assert_allclose(y, net(x), rtol=1e-6)


def test_payload_change_keeps_the_arm_where_it_is():
    """Regression: mj_setConst on the live MjData reset qpos to qpos0 (the arm jumped upright)."""
    sim = Simulator(jaco)
    sim.step(np.zeros(7))
    q0 = sim.joint_state()[0]
    sim.set_payload_mass(1.0)
    np.testing.assert_allclose(sim.joint_state()[0], q0)
    assert sim.payload_mass == pytest.approx(1.0)


def test_inverse_dynamics_learns_from_a_recording_and_refuses_wrong_checkpoints(tmp_path):
    prof = parse_profile({"schema": SCHEMA, "seed": 2, "dynamics": {"latency": {"command": 0.002}},
                          "sensors": {"position_noise": 0.001}})
    rec = tmp_path / "twin.mcap"
    record_twin(jaco, prof, rec, seconds=3.0, seed=4)
    X, Y = dataset_from_mcap(rec, jaco, k=3, lookahead=2)
    assert X.shape[1] == 2 * 7 * 4 + 7 * 2 and Y.shape[1] == 7 and len(X) > 1000
    path, _ = train_inverse_dynamics(jaco, rec, tmp_path / "inv", history=3, lookahead=2, epochs=2, hidden=(32,))
    mode = make_mode("inverse_dynamics", jaco, path, guard=False)     # the mode's own statuses
    _, h = NominalModel(jaco).dynamics(HOME, np.zeros(7))
    taus = feed(mode, [(HOME, np.zeros(7))] * 10, efforts=[h] * 10)
    assert mode.status == "ok" and all(np.all(np.abs(t) <= jaco.effort_limit) for t in taus)
    # a gap in the stamps (a dropped state) empties the history: computed torque until it refills
    mode.command(1.0, HOME, np.zeros(7), STILL, h)
    assert mode.status.startswith("warming up")
    # a model of applied torques cannot run without measured torques: it says so, stays bounded
    tau = mode.command(1.002, HOME, np.zeros(7), STILL)
    assert "needs measured joint torques" in mode.status and np.all(np.abs(tau) <= jaco.effort_limit)
    # wrong kind, wrong robot, missing file: clear errors
    with pytest.raises(ConfigError, match="dynamics_prior"):
        make_mode("nn_prior_lqr", jaco, path)
    meta = json.loads((tmp_path / "inv.json").read_text())
    meta["joint_names"] = meta["joint_names"][::-1]
    shutil.copy(tmp_path / "inv.pt", tmp_path / "other.pt")
    (tmp_path / "other.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="trained for robot"):
        make_mode("inverse_dynamics", jaco, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="train inverse-dynamics"):
        make_mode("inverse_dynamics", jaco, tmp_path / "missing.pt")
