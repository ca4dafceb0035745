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



class _Always:
    """A randomization source that always draws one profile."""

    def __init__(self, prof):
        self.prof = prof

    def names(self, robot):
        return []

    def draw(self, robot, rng):
        return np.zeros(0)

    def profile(self, robot, theta, name="x"):
        return self.prof

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


def test_task_groups_share_targets_and_start_not_robots(jaco):
    s = ReachSims(jaco, 4, source=load_randomization(jaco), seed=3, threads=1, task_group=2)
    s.reset()
    q0 = s.S[:, s.iq].copy()
    np.testing.assert_array_equal(s.target[0], s.target[1])
    np.testing.assert_array_equal(q0[2], q0[3])
    assert not np.allclose(s.target[0], s.target[2]) and not np.allclose(q0[1], q0[2])
    assert not np.allclose(s.params[0], s.params[1])             # each its own robot
    first = s.target.copy()
    for _ in range(s.switch_every):                              # the second target: shared too
        s.step(np.zeros((4, jaco.n)))
    np.testing.assert_array_equal(s.target[0], s.target[1])
    assert not np.allclose(s.target[0], first[0])
    for _ in range(s.horizon - s.switch_every):                  # the next episode: a new shared task
        s.step(np.zeros((4, jaco.n)))
    np.testing.assert_array_equal(s.target[2], s.target[3])
    assert not np.allclose(s.target[2], first[2])
    with pytest.raises(Exception, match="task_group 3 must divide"):
        ReachSims(jaco, 4, source=None, threads=1, task_group=3)


def test_task_groups_share_the_observed_latencies_when_asked(jaco):
    src = load_randomization(jaco)
    names = src.names(jaco)
    lat = [names.index("latency_command"), names.index("latency_state")]
    rest = [j for j in range(len(names)) if j not in lat]
    s = ReachSims(jaco, 4, source=src, seed=3, threads=1, task_group=2, features=("loop_delay",),
                  group_shares=("latency_command", "latency_state"))
    s.reset()
    for _ in range(2):                                           # the first episode and a reset's
        np.testing.assert_array_equal(s.params[0, lat], s.params[1, lat])
        np.testing.assert_array_equal(s.params[2, lat], s.params[3, lat])
        assert not np.allclose(s.params[0, lat], s.params[2, lat])
        assert not np.allclose(s.params[0, rest], s.params[1, rest])   # the robots are still their own
        assert s._loop_delay[0] == s._loop_delay[1] and s._loop_delay[2] == s._loop_delay[3]
        np.testing.assert_array_equal(s.lat_state[::2], s.lat_state[1::2])
        before = s.params.copy()
        s.reset()
        assert not np.allclose(before[:, lat], s.params[:, lat])
    # without groups nothing is shared; a name the source does not draw is an error
    solo = ReachSims(jaco, 4, source=src, seed=3, threads=1, task_group=1, group_shares=("latency_state",))
    solo.reset()
    assert len(set(solo.params[:, lat[1]])) == 4
    with pytest.raises(Exception, match="group_shares"):
        ReachSims(jaco, 4, source=src, threads=1, task_group=2, group_shares=("latency",))


def _sims_for(jaco, data):
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco", **data})

    s = ReachSims(jaco, 1, source=_Always(prof), seed=0, threads=1)
    s.fixed_start = jaco.home.copy()
    s.reset()
    return s


def _first_moves(jaco, data):
    """Joint 2's path over one policy period after a desired step."""
    s = _sims_for(jaco, data)
    q0 = s.S[0, s.iq].copy()
    q_d = q0.copy()
    q_d[1] += 0.05
    s.advance(q_d[None], np.zeros((1, jaco.n)))
    return np.array([s.qh[0, k, 1] for k in range(1, 11)]) - q0[1]


def test_command_latency_delays_the_response(jaco):
    now = _first_moves(jaco, {})
    late = _first_moves(jaco, {"dynamics": {"latency": {"command": 0.010, "state": 0.0}}})
    assert now[2] > 1e-4 and abs(late[3]) < 0.1 * now[3]      # nothing reaches the motors for 5 periods
    weak = _first_moves(jaco, {"dynamics": {"motor_strength": 0.5}})
    assert 0.3 * now[-1] < weak[-1] < 0.7 * now[-1]


def test_state_latency_and_lag_are_in_the_loop(jaco):
    s = _sims_for(jaco, {"dynamics": {"actuator_lag": 0.02, "latency": {"command": 0.004, "state": 0.006}}})
    assert s.lat_cmd[0] == 2 and s.lat_state[0] == 3
    assert s.alpha[0][0] == pytest.approx(1 - np.exp(-0.002 / 0.02))
    s.advance(s.S[:, s.iq] + 0.05, np.zeros((1, jaco.n)))
    q_seen, _ = s.measured()
    np.testing.assert_allclose(q_seen[0], s.qh[0, (s.k - 3) % s.qh.shape[1]])   # 3 periods old, no noise


def test_gravity_of_the_nominal_links_is_compensated(jaco):
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco", "dynamics": {"mass_scale": 2.0}})
    m = training_model(jaco, prof)
    links = [i for i in range(1, m.nbody) if m.body(i).name not in ("payload", "target")]
    np.testing.assert_allclose(m.body_gravcomp[links], 0.5)   # the nominal weight, not the true one
    s = _sims_for(jaco, {})
    q0 = s.S[0, s.iq].copy()
    for _ in range(25):                                       # holding still for half a second
        s.advance(q0[None], np.zeros((1, jaco.n)))
    assert np.max(np.abs(s.S[0, s.iq] - q0)) < 0.01


def test_desired_state_respects_limits(jaco):
    core = ReachCore(jaco, ReachTask.from_robot(jaco))
    q = jaco.home.copy()
    q_d, qd_d = core.desired(np.ones(jaco.n), q, q.copy())
    np.testing.assert_allclose(q_d, q)
    assert np.all(np.abs(qd_d) <= 0.8 * jaco.velocity_limit + 1e-9)
    q_d, qd_d = core.desired(np.full(jaco.n, np.nan), q, q + 10 * LEAD_MAX)  # nonsense in, safe out
    assert np.isfinite(qd_d).all()
    assert np.all(np.abs(q_d + qd_d * core.period - q) <= LEAD_MAX + 1e-9)


def test_load_utilization_predicts_which_postures_hold_a_payload(jaco):
    """The reward's load term: a reference payload needing more than the graph's controller can
    give at rest (utilization > 1 on a joint) sags (the hold term only builds while the joint is
    at rest, and a sagging joint is not); below 1 the joint holds, at the steady error the
    reference's gain and the hold term leave (utilization x amax / (Kp (1 + HoldTerm.GAIN)))."""
    from sim2real.policy.reach_core import LOAD_KG, LOAD_OFFSET
    payload = {"payload": {"mass": LOAD_KG, "offset": [0.0, 0.0, LOAD_OFFSET]}}
    results = []
    for bend in (0.0, 0.8):                       # joint 6 (wrist) from home: hand below it, then out
        post = jaco.home.copy()
        post[5] += bend
        s = _sims_for(jaco, {"dynamics": payload})
        s.fixed_start = post
        s.reset()
        q0 = s.S[0, s.iq].copy()
        from sim2real.policy.reach_core import load_utilization
        b = s.blocks[0]
        b.tracker.inertia(q0[None], b.kin, s.M[:1], b.jac_z)
        u = load_utilization(s.M[:1], b.jac_z, s.core.amax, s.gravity)
        for _ in range(50):                       # one second holding the start
            s.advance(q0[None], np.zeros((1, jaco.n)))
        results.append((np.abs(u[0]), np.abs(s.S[0, s.iq] - q0), s.core.amax))
    (u_hold, drift_hold, amax), (u_sag, drift_sag, _) = results
    assert u_hold.max() < 0.7 and u_sag[5] > 1.5
    from sim2real.control.computed_torque import HoldTerm
    np.testing.assert_allclose(drift_hold, u_hold * amax / (jaco.kp * (1 + HoldTerm.GAIN)), atol=0.01)
    assert drift_sag[5] > 0.2 and drift_hold.max() < 0.05


def test_the_observed_loop_delay_is_the_filters(jaco):
    """The "loop_delay" feature: each simulation's figure is the one its safety filter runs with,
    the figure the graph's filter measures (ROUND_TRIP x the state's age, plus what drops add;
    0 for a loop too fast to move the filter's gains), scaled as reach_core.FEATURES says."""
    from sim2real.policy.env import DELAY_EXCESS
    from sim2real.policy.reach_core import FEATURES
    from sim2real.safety.filter import LoopDelay
    s = _sims_for(jaco, {"dynamics": {"latency": {"command": 0.02, "state": 0.02}}})
    assert s.core.layout.features == ()                       # none unless asked for
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco",
                          "dynamics": {"latency": {"command": 0.02, "state": 0.02}}})

    s = ReachSims(jaco, 6, source=_Always(prof), seed=0, threads=1, features=("loop_delay",))
    obs = s.reset()
    sl = s.core.layout.slots()["extrinsics"]
    assert obs.shape[1] == ReachSims(jaco, 1, source=None, threads=1).core.layout.size + 1
    np.testing.assert_allclose(obs[:, sl][:, 0], s._loop_delay / FEATURES["loop_delay"], rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([b.safety.loop_delay_s for b in s.blocks]), s._loop_delay)
    base = LoopDelay.ROUND_TRIP * (10 + 1) * jaco.dt           # 20 ms = 10 control periods
    assert np.all(s._loop_delay >= base - 1e-9)
    assert np.all(s._loop_delay <= base + LoopDelay.ROUND_TRIP * DELAY_EXCESS * jaco.dt + 1e-9)
    o, *_ = s.step(np.zeros((6, jaco.n)))
    np.testing.assert_allclose(o[:, sl][:, 0], obs[:, sl][:, 0])   # fixed for the episode
    nominal = ReachSims(jaco, 2, source=None, threads=1, features=("loop_delay",))
    assert np.all(nominal.reset()[:, sl] == 0.0)               # 4 ms: the filter keeps its full gains, reads 0


def test_layout_known_features_first_then_latent(jaco):
    from sim2real.policy.reach_core import FEATURES, ReachLayout
    task = ReachTask.from_robot(jaco)
    core = ReachCore(jaco, task, 2, features=("loop_delay",))
    assert core.layout.size == 4 * jaco.n + 6 + 3 and core.layout.latent == 2
    q = np.tile(jaco.home, (3, 1))
    z = np.ones((3, 2))
    o = core.observe(q, 0 * q, np.zeros((3, 3)), np.zeros((3, 3)), q, 0 * q, z, {"loop_delay": np.array([0.0, 0.02, 0.04])})
    ext = o[:, core.layout.slots()["extrinsics"]]
    np.testing.assert_allclose(ext[:, 0], np.array([0.0, 0.02, 0.04]) / FEATURES["loop_delay"], rtol=1e-6)
    np.testing.assert_array_equal(ext[:, 1:], 1.0)
    with pytest.raises(KeyError):
        core.observe(q, 0 * q, np.zeros((3, 3)), np.zeros((3, 3)), q, 0 * q)     # the delay is not optional
    with pytest.raises(ValueError, match="unknown extrinsic feature"):
        ReachLayout(jaco.n, 1, ("wind",))


def test_the_desired_speed_is_smoothed_over_the_loops_delay(jaco):
    """ReachCore.command_speed: the action's speed itself on a fast loop, low-passed with a time
    constant of speed_lag x the delay on a slow one; none without speed_lag (older checkpoints)."""
    task = ReachTask.from_robot(jaco)
    core = ReachCore(jaco, task, speed_lag=0.5)
    full = np.ones(jaco.n) * core.speed * core.vmax
    np.testing.assert_allclose(core.command_speed(np.ones(jaco.n), np.zeros(jaco.n), 0.0), full)
    v = np.zeros((2, jaco.n))
    for k in range(3):
        v = core.command_speed(np.ones((2, jaco.n)), v, np.array([0.0, 0.044]))
        beta = 1 - np.exp(-core.period / (0.5 * 0.044))
        np.testing.assert_allclose(v[1], full * (1 - (1 - beta) ** (k + 1)))
    np.testing.assert_allclose(v[0], full)
    plain = ReachCore(jaco, task)
    np.testing.assert_allclose(plain.command_speed(np.ones(jaco.n), np.zeros(jaco.n), 0.044), full)
    q = jaco.home.copy()
    _, qd_d = core.desired(np.ones(jaco.n), q, q, 0.5 * full)
    np.testing.assert_allclose(qd_d, 0.5 * full)               # the speed given, not the action's


def test_blocks_in_threads_are_deterministic_and_share_nothing(jaco):
    """The loop runs in blocks of rows, one per thread (policy/env._Block): the same seed gives the
    same trajectories whatever the threads' interleaving (nothing shared while they run), and
    without sensor noise (the one stream that is per block) two blocks give exactly what one does."""
    from sim2real.policy.env import ReachSims
    from sim2real.sim.randomize import load_randomization
    acts = np.random.default_rng(3).uniform(-1, 1, (15, 6, jaco.n))

    def run(source, threads):
        s = ReachSims(jaco, 6, source=source, seed=11, threads=threads)
        s.reset()
        obs = np.array([s.step(a)[0] for a in acts])
        s.close()
        return obs, s.S.copy(), [(b.start, b.size) for b in s.blocks]

    src = load_randomization(jaco)
    a, b = run(src, 2), run(src, 2)
    assert a[2] == [(0, 3), (3, 3)]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    one, two = run(None, 1), run(None, 2)
    assert one[2] == [(0, 6)]
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    assert np.abs(np.diff(one[1][:, 1:8], axis=0)).max() > 0.01      # the arms moved
