"""The policy's training environment: gymnasium's checker, randomization per episode, the
latency and the tracker it models, determinism."""
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim2real.policy.env import ReachEnv, ReachSims, ReachVecEnv, training_model
from sim2real.policy.reach_core import LEAD_MAX, ReachCore
from sim2real.robots import load_robot
from sim2real.sim.randomize import load_randomization
from sim2real.sim.reality import parse_profile
from sim2real.tasks.reach import ReachTask


@pytest.fixture(scope="module")
def jaco():
    return load_robot("jaco")


def test_single_env_passes_gymnasium_checker(jaco):
    env = ReachEnv(jaco, source=load_randomization(jaco), seed=0)
    check_env(env, skip_render_check=True)


def test_vec_env_draws_a_robot_per_episode(jaco):
    env = ReachVecEnv(jaco, 4, source=load_randomization(jaco), seed=1, threads=1)
    obs = env.reset()
    assert obs.shape == (4, env.sims.core.layout.size) and np.isfinite(obs).all()
    masses = {round(float(m.body_mass[1:].sum()), 6) for m in env.sims.models}
    assert len(masses) == 4                      # each simulation its own dynamics
    p0 = env.sims.params.copy()
    for _ in range(env.sims.horizon):
        obs, rew, done, infos = env.step(np.zeros((4, jaco.n), np.float32))
        assert np.isfinite(obs).all() and np.isfinite(rew).all()
    assert done.all() and all("success" in i and "terminal_observation" in i for i in infos)
    assert not np.allclose(env.sims.params, p0)   # new robots for the new episodes


def test_nominal_scheme_has_one_model(jaco):
    sims = ReachSims(jaco, 3, source=None, seed=0, threads=1)
    sims.reset()
    assert sims.models[0] is sims.models[1] is sims.models[2] and sims.params.shape == (3, 0)


def test_same_seed_same_episode(jaco):
    runs = []
    for _ in range(2):
        s = ReachSims(jaco, 2, source=load_randomization(jaco), seed=5, threads=1)
        o = s.reset()
        a = np.full((2, jaco.n), 0.3)
        for _ in range(5):
            o, r, d, _ = s.step(a)
        runs.append((o, r))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def _joint2_after(jaco, latency):
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco",
                          "dynamics": {"latency": {"command": latency, "state": 0.0}}})

    class One:     # a source that always draws this profile
        def names(self, robot):
            return []

        def draw(self, robot, rng):
            return np.zeros(0)

        def profile(self, robot, theta, name="x"):
            return prof
    s = ReachSims(jaco, 1, source=One(), seed=0, threads=1)
    s.reset()
    q0 = s.S[0, s.iq].copy()
    a = np.zeros((1, jaco.n))
    a[0, 1] = 1.0
    s.step(a)
    return s.S[0, s.iq][1] - q0[1], s.hist[0, :, s.iq[1]] - q0[1]


def test_command_latency_delays_the_response(jaco):
    moved0, _ = _joint2_after(jaco, 0.0)
    moved15, _ = _joint2_after(jaco, 0.016)    # 8 of the 10 physics steps act on the old setpoint
    assert moved0 > 0 and moved15 < 0.5 * moved0


def test_tracker_is_in_the_actuators(jaco):
    sims = ReachSims(jaco, 1, seed=0, threads=1)
    m = sims.models[0]
    assert m.na == jaco.n                        # the actuator lag filter
    np.testing.assert_allclose(m.actuator_gainprm[:jaco.n, 0], sims.gains.kp)
    np.testing.assert_allclose(-m.actuator_biasprm[:jaco.n, 2], sims.gains.kv)
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco",
                          "dynamics": {"motor_strength": 0.5, "mass_scale": 2.0}})
    weak = training_model(jaco, prof, sims.gains)
    np.testing.assert_allclose(weak.actuator_gainprm[:jaco.n, 0], 0.5 * sims.gains.kp)
    links = [i for i in range(1, weak.nbody) if weak.body(i).name not in ("payload", "target")]
    np.testing.assert_allclose(weak.body_gravcomp[links], 0.5)   # the nominal weight, not the true one


def test_desired_state_respects_limits(jaco):
    core = ReachCore(jaco, ReachTask.from_robot(jaco))
    q = jaco.home.copy()
    q_d, qd_d = core.desired(np.ones(jaco.n), q, q.copy())
    np.testing.assert_allclose(q_d, q)
    assert np.all(np.abs(qd_d) <= 0.8 * jaco.velocity_limit + 1e-9)
    q_d, qd_d = core.desired(np.full(jaco.n, np.nan), q, q + 10 * LEAD_MAX)  # nonsense in, safe out
    assert np.isfinite(qd_d).all()
    assert np.all(np.abs(q_d + qd_d * core.period - q) <= LEAD_MAX + 1e-9)
