"""Training schemes on a tiny budget: files written, EPOpt keeps the worst trajectories, the
ONNX export runs the same network, the runtime checks and holds."""
import json

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.policy.adapt import tempered_weights
from sim2real.policy.runtime import LearnedReach
from sim2real.policy.train import TrainConfig, epopt_keep, make_ppo, train
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def jaco():
    return load_robot("jaco")


@pytest.fixture(scope="module")
def tiny(jaco, tmp_path_factory):
    out = tmp_path_factory.mktemp("policy") / "tiny"
    res = train(jaco, TrainConfig(scheme="epopt", envs=4, iterations=3, warmup=1, epsilon=0.5, task_group=2, minibatch=200,
                                  epochs=1, threads=1), out, progress=False)
    return out, res


def test_training_writes_checkpoint_onnx_and_curves(tiny):
    out, res = tiny
    for suffix in (".pt", ".json", ".onnx", "-curve.csv", "-curve.png"):
        assert (out.parent / f"tiny{suffix}").is_file(), suffix
    meta = json.loads((out.parent / "tiny.json").read_text())
    assert meta["kind"] == "reach_policy" and meta["scheme"] == "epopt" and meta["robot"] == "jaco"
    assert meta["train_wall_s"] > 0 and res["env_steps"] == 3 * 4 * 400   # 8 s episodes at 50 Hz
    rows = (out.parent / "tiny-curve.csv").read_text().splitlines()
    assert len(rows) == 1 + 3
    assert meta["stopped"] == "iterations" and meta["iterations_done"] == 3
    assert meta["config"]["group_shares"] == ["latency_command", "latency_state"]


def test_time_budget_stops_cleanly_and_says_so(jaco, tmp_path):
    out = tmp_path / "budget"
    # a budget no iteration fits in twice: it stops after the first (its update included)
    res = train(jaco, TrainConfig(scheme="dr", envs=2, iterations=5, minibatch=200, epochs=1, threads=1,
                                  time_budget_s=1e-3), out, progress=False)
    assert res["stopped"] == "time_budget" and res["iterations_done"] == 1
    meta = json.loads((tmp_path / "budget.json").read_text())
    assert meta["stopped"] == "time_budget" and meta["iterations_done"] == 1
    assert meta["config"]["time_budget_s"] == 1e-3 and meta["final"]["iteration"] == 1
    for suffix in (".pt", ".onnx", "-curve.csv", "-curve.png"):
        assert (tmp_path / f"budget{suffix}").is_file(), suffix
    assert len((tmp_path / "budget-curve.csv").read_text().splitlines()) == 1 + 1
    LearnedReach(out, jaco)                                      # a checkpoint the runtime loads


def test_onnx_matches_the_torch_actor(jaco, tiny):
    from sim2real.learn.checkpoint import load_checkpoint
    out, _ = tiny
    pol = LearnedReach(out, jaco)
    net, _ = load_checkpoint(out, "reach_policy", jaco)
    obs = np.random.default_rng(0).normal(size=(5, pol.core.layout.size)).astype(np.float32)
    a_onnx = pol.sess.run(None, {pol.input: obs})[0]
    np.testing.assert_allclose(a_onnx, np.stack([net(o.astype(float)) for o in obs]), atol=1e-4)


def test_runtime_holds_on_bad_inputs(jaco, tiny):
    pol = LearnedReach(tiny[0], jaco)
    q = jaco.home.copy()
    q_d, qd_d, why = pol.act(q, np.zeros(7), None)
    assert why == "no target yet" and np.allclose(q_d, q) and not qd_d.any()
    q_d, qd_d, why = pol.act(q, np.zeros(7), np.array([0.5, 0.0, 0.3]))
    assert why is None and np.isfinite(q_d).all()
    held = pol.q_d.copy()
    q_d, qd_d, why = pol.act(q, np.full(7, np.nan), np.array([0.5, 0.0, 0.3]))
    assert why == "non-finite input" and np.allclose(q_d, held) and not qd_d.any()


def test_runtime_refuses_another_robots_checkpoint(tiny):
    with pytest.raises(ConfigError, match="trained for robot jaco"):
        LearnedReach(tiny[0], load_robot("go1"))


def test_epopt_update_uses_only_the_worst_trajectories(jaco):
    from sim2real.policy.env import ReachVecEnv
    from sim2real.sim.randomize import load_randomization
    env = ReachVecEnv(jaco, 4, source=load_randomization(jaco), seed=0, threads=1)
    cfg = TrainConfig(scheme="epopt", envs=4, iterations=2, warmup=1, epsilon=0.5, minibatch=200, epochs=1)
    model = make_ppo(env, cfg, env.sims)
    seen = []
    orig = type(model).__mro__[1].train

    def spy(self):
        seen.append(self.rollout_buffer.rewards.shape[1])
        return orig(self)
    type(model).__mro__[1].train = spy
    try:
        model.learn(total_timesteps=2 * 4 * env.sims.horizon)
    finally:
        type(model).__mro__[1].train = orig
    assert seen == [4, 2] and model.kept == 2    # warm-up on all, then the worst half


def test_dr_shares_tasks_only_when_asked(jaco, tmp_path):
    """dr runs without task groups unless given one; then it runs in groups that share the latencies
    (what the groups share is test_env's), and the metadata says so."""
    runs = {}
    for name, group in (("solo", None), ("grouped", 2)):
        train(jaco, TrainConfig(scheme="dr", envs=4, iterations=1, task_group=group, minibatch=200, epochs=1,
                                threads=1), tmp_path / name, progress=False)
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())["config"]
    assert runs["solo"]["task_group"] == 1 and runs["solo"]["group_shares"] == []
    assert runs["grouped"]["task_group"] == 2
    assert runs["grouped"]["group_shares"] == ["latency_command", "latency_state"]
    with pytest.raises(ConfigError, match="task_group 3 must divide"):
        train(jaco, TrainConfig(scheme="dr", envs=4, iterations=1, task_group=3), tmp_path / "bad", progress=False)


def test_epopt_ranks_robots_within_their_task_group():
    r = np.array([5.0, -1.0, 3.0, 2.0, -9.0, 0.0, 7.0, 8.0])
    assert sorted(epopt_keep(r, 0.25)) == [1, 4]                 # one batch: the two worst overall
    assert sorted(epopt_keep(r, 0.25, group=4)) == [1, 4]        # the worst of each group of 4
    assert sorted(epopt_keep(r, 0.5, group=4)) == [1, 3, 4, 5]
    # a far target's group is low throughout: its best robot is not kept for being far
    far = np.array([-50.0, -40.0, -45.0, -42.0, 10.0, 2.0, 9.0, 8.0])
    assert sorted(epopt_keep(far, 0.25, group=4)) == [0, 5]


def test_tempered_weights_reach_the_asked_ess():
    ll = -np.linspace(0, 5000, 1000)
    w, beta, ess = tempered_weights(ll, 0.05)
    assert 0 < beta < 1 and ess == pytest.approx(50, rel=0.05) and w.sum() == pytest.approx(1.0)


def test_unknown_scheme_and_missing_target_data(jaco, tmp_path):
    with pytest.raises(ConfigError, match="unknown scheme"):
        train(jaco, TrainConfig(scheme="ppo"), tmp_path / "x")
    with pytest.raises(ConfigError, match="target-data"):
        train(jaco, TrainConfig(scheme="epopt+adapt"), tmp_path / "x")


def test_runtime_observes_the_loop_delay_it_is_given(jaco, tiny):
    """A checkpoint trained with the "loop_delay" feature (the default) records it; the runtime
    puts the delay it is given into that slot, refuses nonsense, and acts differently on it."""
    from sim2real.policy.reach_core import FEATURES
    out, _ = tiny
    meta = json.loads((out.parent / "tiny.json").read_text())
    assert meta["extrinsic_features"] == ["loop_delay"] and meta["extrinsics"] == 1
    pol = LearnedReach(out, jaco)
    assert pol.observes_delay and pol.loop_delay_s == 0.0
    seen = []
    run = pol.sess.run
    pol.sess = type("Spy", (), {"run": staticmethod(lambda o, f: seen.append(f[pol.input].copy()) or run(o, f))})()
    q, tgt = jaco.home.copy(), np.array([0.5, 0.0, 0.3])
    for d in (0.0, 0.04):
        assert pol.set_loop_delay(d)
        pol.reset()
        pol.act(q, np.zeros(7), tgt)
    assert not pol.set_loop_delay(float("nan")) and not pol.set_loop_delay(-0.01) and pol.loop_delay_s == 0.04
    ext = pol.core.layout.slots()["extrinsics"]
    assert seen[0][0, ext][0] == 0.0 and seen[1][0, ext][0] == pytest.approx(0.04 / FEATURES["loop_delay"])
    np.testing.assert_array_equal(seen[0][0, :ext.start], seen[1][0, :ext.start])   # the rest: the same


def test_init_from_a_checkpoint_that_did_not_observe_the_delay(jaco, tmp_path):
    """--init from a checkpoint without the feature (the shipped ones before it): the new input
    starts at zero weight, so the started policy acts as the checkpoint did at any delay."""
    import torch

    from sim2real.learn.checkpoint import load_checkpoint
    from sim2real.policy.env import ReachVecEnv
    from sim2real.policy.train import actor_mlp, load_actor
    old = tmp_path / "old"
    train(jaco, TrainConfig(scheme="dr", envs=2, iterations=1, minibatch=200, epochs=1, threads=1, features=()),
          old, progress=False)
    env = ReachVecEnv(jaco, 2, threads=1, features=("loop_delay",))
    cfg = TrainConfig(scheme="dr", envs=2, minibatch=200, epochs=1)
    model = make_ppo(env, cfg, env.sims)
    load_actor(model, old.with_suffix(".pt"), jaco, cfg.hidden, ("loop_delay",))
    net_old, meta = load_checkpoint(old.with_suffix(".pt"), "reach_policy", jaco)
    assert meta["extrinsics"] == 0 and meta["extrinsic_features"] == []
    net_new = actor_mlp(model, cfg.hidden)
    obs = np.random.default_rng(1).normal(size=(6, env.sims.core.layout.size))
    with torch.no_grad():
        a_new = net_new(torch.tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(a_new, np.stack([net_old(o[:-1]) for o in obs]), atol=1e-5)
    env_latent = ReachVecEnv(jaco, 2, threads=1, extrinsics=2)      # not a prefix: refused
    with pytest.raises(ConfigError, match="not a prefix"):
        load_actor(make_ppo(env_latent, cfg, env_latent.sims), old.with_suffix(".pt"), jaco, cfg.hidden, ())


def test_critic_warmup_trains_the_value_net_only(jaco, tiny, tmp_path):
    """--critic-warmup N with --init: the first N iterations leave the started actor as it was
    (and its exploration std) and move the fresh value net; after them the actor learns too."""
    from sim2real.learn.checkpoint import load_checkpoint
    start, _ = load_checkpoint(tiny[0], "reach_policy", jaco)
    obs = np.random.default_rng(2).normal(size=(6, 35))
    outs = {}
    for warm in (2, 1):
        out = tmp_path / f"w{warm}"
        train(jaco, TrainConfig(scheme="epopt", envs=4, iterations=2, warmup=1, epsilon=0.5, task_group=2, minibatch=200,
                                epochs=1, threads=1, init=str(tiny[0]), critic_warmup=warm), out, progress=False)
        net, meta = load_checkpoint(out, "reach_policy", jaco)
        outs[warm] = np.stack([net(o) for o in obs])
        started = json.loads((tiny[0].parent / "tiny.json").read_text())
        assert meta["init_checkpoint"]["file"] == "tiny.pt" and meta["init_checkpoint"]["scheme"] == "epopt"
        assert meta["chain_wall_s"] == pytest.approx(meta["train_wall_s"] + started["train_wall_s"], abs=0.11)
    a0 = np.stack([start(o) for o in obs])
    np.testing.assert_array_equal(outs[2], a0)          # both iterations the critic's: the actor as started
    assert not np.allclose(outs[1], a0)                 # one: the second iteration moved it
