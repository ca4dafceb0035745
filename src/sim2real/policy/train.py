"""Training the reach policy with stable-baselines3's PPO, in four schemes:

  nominal       the nominal model only, no randomization
  dr            domain randomization: each episode a robot drawn from config/randomization/<robot>.yaml;
                with --task-group G the robots run in groups of G on common targets, start postures
                and latencies as EPOpt's do, and every trajectory is trained on (EPOpt with
                epsilon 1: the budget-matched control of its selection)
  epopt         EPOpt-epsilon (Rajeswaran et al. 2016, Algorithm 1): each iteration N robots are
                drawn and rolled out (one episode each); after a warm-up on all of them, the
                policy update uses only the trajectories whose return is in the worst epsilon;
                the simulations run in groups of `task_group` on common targets and start
                postures (policy/env.py), and the worst epsilon of each group is kept: the
                paper's ranking is over robots for one task, and across random targets the
                return would rank the far targets, not the hard robots; a group also shares
                the latencies (`group_shares`): the policy observes the loop's delay, so it is
                part of the task, and across delays the ranking kept the slowest loops, not the
                hard robots
  epopt+adapt   EPOpt on the source distribution adapted to target data (policy/adapt.py: an
                importance-weighted posterior over drawn parameters from their likelihood of
                trajectories recorded on the target, refitted as a Gaussian)

One PPO iteration is exactly one episode per environment (n_steps = the episode's length and
every episode starts together), so "a trajectory" of the paper is one environment's column of
the rollout buffer, and EPOpt's selection keeps whole columns.

Outputs, beside the checkpoint NAME.pt (+ .json, learn/checkpoint.py's format: the
deterministic actor as a ReLU MLP, observation layout in the metadata): NAME.onnx (the same
network for ONNX Runtime), NAME-curve.csv and NAME-curve.png (per iteration: environment steps,
mean return, worst-10% return, success rate, wall time). A run started from a checkpoint
(--init) records it and `chain_wall_s`: its own wall time plus that checkpoint's chain.
"""
from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError

SCHEMES = ("nominal", "dr", "epopt", "epopt+adapt")
KIND = "reach_policy"


@dataclass
class TrainConfig:
    scheme: str = "dr"
    envs: int = 64                 # robots drawn per iteration (N of EPOpt)
    iterations: int = 100
    epsilon: float = 0.25          # EPOpt: the worst fraction of trajectories kept
    warmup: int = 30               # EPOpt: iterations on all trajectories first
    task_group: int | None = None  # simulations sharing targets, start and latencies (EPOpt ranks among them);
                                   # None: 8 for epopt and epopt+adapt, 1 (none) for dr and nominal
    hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 3e-4
    epochs: int = 8
    minibatch: int = 1600
    gamma: float = 0.98
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    init_log_std: float = -0.8      # from scratch (-0.5 before: 25 min of it left the policy far from done)
    seed: int = 0
    episode_s: float = 8.0         # two targets of 4 s (policy/env.py TARGETS)
    threads: int = 2
    init: str | None = None        # start the actor from this checkpoint (EPOpt after a dr run: the paper's warm-up)
    randomization: str | None = None   # ranges file (default: config/randomization/<robot>.yaml)
    features: tuple[str, ...] = ("loop_delay",)   # known extrinsic features observed (policy/reach_core.FEATURES)
    speed_lag: float = 0.5         # desired speed low-passed over this x the loop's delay (ReachCore.command_speed)
    init_log_std_continued: float = -1.2   # exploration of an --init actor: it acts already, wide noise undoes it
    critic_warmup: int = 0         # with --init: first iterations train the (fresh) value net only, the actor frozen
    group_shares: tuple[str, ...] = ("latency_command", "latency_state")   # drawn once per task group
    time_budget_s: float | None = None   # stop before the iteration that would end past this much wall time
    extra: dict = field(default_factory=dict)


def task_group(scheme: str, given: int | None) -> int:
    """The robots per task group: as given, else 8 for EPOpt (it ranks within groups), 1 (none) otherwise."""
    return given if given is not None else (8 if scheme in ("epopt", "epopt+adapt") else 1)


def epopt_keep(returns: np.ndarray, epsilon: float, group: int = 1) -> np.ndarray:
    """The trajectories EPOpt trains on: the worst epsilon by return of each group of `group`
    consecutive simulations (sharing targets and start), or of all of them for group 1."""
    g = group if group > 1 else len(returns)
    k = max(1, int(np.ceil(epsilon * g)))
    return np.concatenate([j * g + np.argsort(returns[j * g:(j + 1) * g], kind="stable")[:k]
                           for j in range(len(returns) // g)])


def make_ppo(env, cfg: TrainConfig, sims, verbose=0):
    import torch.nn as nn
    from stable_baselines3 import PPO

    class EPOptPPO(PPO):
        """PPO whose update, from iteration `warmup` on, sees only the worst-epsilon episodes."""
        epsilon: float | None = None
        warmup_iters = 0
        critic_iters = 0
        iteration = 0
        kept: int | None = None

        def actor_params(self):
            p = self.policy
            return list(p.mlp_extractor.policy_net.parameters()) + list(p.action_net.parameters()) + [p.log_std]

        def train(self) -> None:
            self.iteration += 1
            if self.iteration > self.critic_iters:
                return self._train()
            # a started actor's fresh value net: fit it before its advantages move the actor
            for q in self.actor_params():
                q.requires_grad_(False)
            try:
                self._train()
            finally:
                for q in self.actor_params():
                    q.requires_grad_(True)

        def _train(self) -> None:
            buf = self.rollout_buffer
            if self.epsilon is None or self.iteration <= self.warmup_iters:
                self.kept = None
                return super().train()
            keep = epopt_keep(sims.last_returns, self.epsilon, sims.task_group)
            n_envs = buf.n_envs
            for name in ("observations", "actions", "rewards", "returns", "episode_starts", "values",
                         "log_probs", "advantages"):
                setattr(buf, name, getattr(buf, name)[:, keep])
            buf.n_envs = len(keep)
            self.kept = len(keep)
            try:
                super().train()
            finally:
                buf.n_envs = n_envs
                buf.reset()

    model = EPOptPPO(
        "MlpPolicy", env, learning_rate=cfg.learning_rate, n_steps=sims.horizon, batch_size=cfg.minibatch,
        n_epochs=cfg.epochs, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, ent_coef=cfg.ent_coef, seed=cfg.seed,
        policy_kwargs=dict(net_arch=dict(pi=list(cfg.hidden), vf=[128, 128]), activation_fn=nn.ReLU,
                           log_std_init=cfg.init_log_std_continued if cfg.init else cfg.init_log_std),
        device="cpu", verbose=verbose)
    if cfg.scheme in ("epopt", "epopt+adapt"):
        model.epsilon, model.warmup_iters = cfg.epsilon, cfg.warmup
    if cfg.init:
        model.critic_iters = cfg.critic_warmup
    return model


def load_actor(model, path, robot, hidden, features: tuple[str, ...] = ()) -> None:
    """Copy a reach_policy checkpoint's actor into the SB3 policy (the value net starts fresh).
    A checkpoint whose observation is a prefix of this one's (no latent, its extrinsic features
    the first of `features`: e.g. one trained before the loop delay was observed) starts the
    new inputs at zero weight, so the copy acts exactly as the checkpoint did."""
    import torch

    from sim2real.learn.checkpoint import checkpoint_files, load_checkpoint
    pt, _ = checkpoint_files(path)
    n_in = model.observation_space.shape[0]
    _, meta = load_checkpoint(pt, KIND, robot, {"hidden": list(hidden)})
    old_feat = tuple(meta.get("extrinsic_features", ()))
    old_in = int(meta.get("obs_size", -1))
    prefix = (int(meta.get("extrinsics", 0)) == len(old_feat) and tuple(features[:len(old_feat)]) == old_feat
              and old_in == n_in - (len(features) - len(old_feat)))
    if old_in != n_in and not prefix:
        raise ConfigError(f"--init {pt}: its observation ({old_in} values, extrinsic features {list(old_feat)}, "
                          f"extrinsics {meta.get('extrinsics', 0)}) is not a prefix of this training's ({n_in}, "
                          f"features {list(features)})")
    sd = torch.load(pt, weights_only=True, map_location="cpu")
    pol = model.policy
    dst = [m for m in pol.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)] + [pol.action_net]
    with torch.no_grad():
        for i, d in enumerate(dst):
            w = sd[f"{2 * i}.weight"]
            if i == 0 and w.shape[1] < n_in:      # the new inputs (at the end) start unused
                w = torch.cat([w, torch.zeros(w.shape[0], n_in - w.shape[1], dtype=w.dtype)], dim=1)
            d.weight.copy_(w)
            d.bias.copy_(sd[f"{2 * i}.bias"])


def actor_mlp(model, hidden):
    """The deterministic actor (mean action) of an SB3 MlpPolicy as learn/networks.torch_mlp."""
    import torch

    from sim2real.learn.networks import torch_mlp
    pol = model.policy
    n_in = pol.observation_space.shape[0]
    n_out = pol.action_space.shape[0]
    net = torch_mlp(n_in, n_out, tuple(hidden))
    src = [m for m in pol.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)] + [pol.action_net]
    dst = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for s, d in zip(src, dst):
            d.weight.copy_(s.weight)
            d.bias.copy_(s.bias)
    return net


def export_onnx(net, n_in: int, path: Path) -> None:
    import warnings

    import torch
    net.eval()
    x = torch.zeros(1, n_in)
    with warnings.catch_warnings():   # the TorchScript exporter: the dynamo one needs onnxscript, not pinned here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), str(path), input_names=["obs"], output_names=["action"],
                          dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}}, dynamo=False)


def train(robot, cfg: TrainConfig, out: Path, *, source=None, force=False, progress=True,
          extra_meta: dict | None = None) -> dict:
    """Train one scheme; write NAME.pt/.json/.onnx and the curves; returns a summary."""
    import torch
    from tqdm import tqdm

    from sim2real.learn.checkpoint import metadata, refuse_overwrite, save_checkpoint
    from sim2real.policy.env import ReachVecEnv
    from sim2real.sim.randomize import load_randomization

    if cfg.scheme not in SCHEMES:
        raise ConfigError(f"unknown scheme '{cfg.scheme}'; choose one of: {', '.join(SCHEMES)}")
    if not force:
        refuse_overwrite(out)
    if cfg.scheme == "nominal":
        source = None
    elif source is None:
        if cfg.scheme == "epopt+adapt":
            raise ConfigError("epopt+adapt needs the adapted source (--target-data FILE.mcap)")
        source = load_randomization(robot, cfg.randomization)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    group = task_group(cfg.scheme, cfg.task_group)
    cfg.task_group = group        # the metadata records what ran (1: no groups)
    shares = tuple(cfg.group_shares) if group > 1 and source is not None else ()
    cfg.group_shares = shares
    env = ReachVecEnv(robot, cfg.envs, source=source, seed=cfg.seed, episode_s=cfg.episode_s, threads=cfg.threads,
                      task_group=group, features=tuple(cfg.features), speed_lag=cfg.speed_lag, group_shares=shares)
    sims = env.sims
    model = make_ppo(env, cfg, sims)
    if cfg.init:
        load_actor(model, cfg.init, robot, cfg.hidden, tuple(cfg.features))
    rows: list[dict] = []
    stop = {"budget": False}
    t0 = time.perf_counter()
    from stable_baselines3.common.callbacks import BaseCallback

    class Curve(BaseCallback):
        def __init__(self):
            super().__init__()
            self.bar = tqdm(total=cfg.iterations, desc=f"train policy {cfg.scheme}", unit="it", disable=not progress)

        def _on_step(self) -> bool:
            return not stop["budget"]     # False: SB3 ends learn() (the partial rollout is not trained on)

        def _on_rollout_end(self) -> None:
            r, s = sims.last_returns, sims.last_success
            rows.append({"iteration": len(rows) + 1, "env_steps": int(self.num_timesteps),
                         "mean_return": float(np.mean(r)), "worst10_return": float(np.mean(np.sort(r)[:max(1, len(r) // 10)])),
                         "success": float(np.mean(s)), "final_error_m": float(np.mean(sims.last_final_error)),
                         "wall_s": time.perf_counter() - t0})
            if cfg.time_budget_s is not None and len(rows) < cfg.iterations:
                # this iteration's update and the next rollout would take about one iteration more
                took = rows[-1]["wall_s"] - (rows[-2]["wall_s"] if len(rows) > 1 else 0.0)
                if rows[-1]["wall_s"] + 2 * took > cfg.time_budget_s:
                    stop["budget"] = True
            self.bar.update(1)
            self.bar.set_postfix(ret=f"{rows[-1]['mean_return']:.1f}", worst=f"{rows[-1]['worst10_return']:.1f}",
                                 success=f"{rows[-1]['success']:.2f}")

    cb = Curve()
    model.learn(total_timesteps=cfg.iterations * cfg.envs * sims.horizon, callback=cb)
    cb.bar.close()
    wall = time.perf_counter() - t0

    chain = {}
    if cfg.init:     # what this training stands on: its wall time and the stages before it
        from sim2real.learn.checkpoint import checkpoint_files, load_metadata
        init_pt, init_meta = checkpoint_files(cfg.init)
        before = load_metadata(init_meta)
        start_s = before.get("chain_wall_s", before.get("train_wall_s"))     # None: not recorded
        chain = {"chain_wall_s": None if start_s is None else round(wall + float(start_s), 1),
                 "init_checkpoint": {"file": init_pt.name, "scheme": before.get("scheme"),
                                     "train_wall_s": before.get("train_wall_s"), "chain_wall_s": start_s,
                                     "created": before.get("created")}}
    net = actor_mlp(model, cfg.hidden)
    n_in, n_out = sims.core.layout.size, robot.n
    norm = {"in_mean": [0.0] * n_in, "in_std": [1.0] * n_in, "out_mean": [0.0] * n_out, "out_std": [1.0] * n_out}
    meta = metadata(KIND, robot, n_in, n_out, cfg.hidden, norm,
                    inputs=", ".join(f"{k}[{v.stop - v.start}]" for k, v in sims.core.layout.slots().items()),
                    outputs="action in [-1, 1]^n: desired joint speed / (action_speed vmax) (policy/reach_core.py)",
                    obs_size=n_in, extrinsics=sims.core.layout.extrinsics,
                    extrinsic_features=list(sims.core.layout.features), action_speed=sims.core.speed,
                    speed_lag=sims.core.speed_lag,
                    scheme=cfg.scheme, task=task_definition(),
                    policy_rate_hz=robot.policy_rate_hz, train_wall_s=round(wall, 1),
                    env_steps=int(model.num_timesteps), config={k: v for k, v in asdict(cfg).items() if k != "extra"},
                    final=rows[-1] if rows else {}, iterations_done=len(rows),
                    stopped="time_budget" if stop["budget"] else "iterations", **chain, **(extra_meta or {}))
    pt = save_checkpoint(out, net, meta, overwrite=True)
    export_onnx(net, n_in, pt.with_suffix(".onnx"))
    write_curves(rows, pt.with_name(pt.stem + "-curve"), f"{robot.name} {cfg.scheme}")
    return {"checkpoint": str(pt), "wall_s": wall, "env_steps": int(model.num_timesteps), "final": rows[-1] if rows else {},
            "iterations_done": len(rows), "stopped": meta["stopped"], "chain_wall_s": meta.get("chain_wall_s")}


def task_definition() -> dict:
    """What the policy was trained to do, beyond the layout (recorded in the checkpoint)."""
    from sim2real.policy import env, reach_core as rc
    return {"lead_max": rc.LEAD_MAX, "posture_weight": rc.POSTURE_WEIGHT, "load_weight": rc.LOAD_WEIGHT,
            "load_ref_kg": rc.LOAD_KG, "load_offset_m": rc.LOAD_OFFSET, "fine_weight": rc.FINE_WEIGHT,
            "fine_scale_m": rc.FINE_SCALE, "targets_per_episode": env.TARGETS,
            "target_noise_m": env.TARGET_NOISE}


def write_curves(rows: list[dict], stem: Path, title: str) -> None:
    if not rows:
        return
    with open(f"{stem}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = [r["env_steps"] / 1e6 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(x, [r["mean_return"] for r in rows], label="mean")
    ax[0].plot(x, [r["worst10_return"] for r in rows], label="worst 10%")
    ax[0].set_xlabel("environment steps (M)")
    ax[0].set_ylabel("episode return")
    ax[0].legend()
    ax[1].plot(x, [r["success"] for r in rows])
    ax[1].set_xlabel("environment steps (M)")
    ax[1].set_ylabel("success rate (training robots)")
    ax[1].set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(f"{stem}.png", dpi=90)
    plt.close(fig)
