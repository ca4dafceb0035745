"""The policy's commands, called by cli.py (which parses and dispatches):

  sim2real train policy --robot R --scheme nominal|dr|epopt|epopt+adapt [--target-data REC.mcap]
  sim2real eval policy --robot R [--reality FILE] [--episodes N] [--sweep payload=0:1.5] [--graph]
                       [--checkpoints SCHEME=FILE.pt ...] [--json]
  sim2real bench env --robot R [--envs N] [--json]
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from sim2real import paths
from sim2real.errors import ConfigError


def _machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def train_policy(a) -> int:
    from sim2real.eval.policy import checkpoint_kind
    from sim2real.learn.checkpoint import refuse_overwrite
    from sim2real.policy.train import SCHEMES, TrainConfig, task_group, train
    from sim2real.robots import load_robot
    robot = load_robot(a.robot)
    if a.scheme not in SCHEMES:
        raise ConfigError(f"unknown scheme '{a.scheme}'; choose one of: {', '.join(SCHEMES)}")
    out = Path(a.out) if a.out else paths.checkpoint(robot.name, checkpoint_kind(a.scheme))
    group = task_group(a.scheme, a.task_group)
    if a.envs % group:
        given = "" if a.task_group is not None else f" (the {a.scheme} default)"
        raise ConfigError(f"--task-group {group}{given} must divide --envs {a.envs} (the robots of a group share "
                          f"targets, start and latencies; EPOpt ranks them among themselves)")
    if a.randomization and not paths.user_path(a.randomization).is_file():
        raise ConfigError(f"--randomization {a.randomization}: no such file")
    if not a.force:
        refuse_overwrite(out)         # before any adaptation or training
    cfg = TrainConfig(scheme=a.scheme, iterations=a.iterations, envs=a.envs, seed=a.seed, epsilon=a.epsilon,
                      warmup=min(a.warmup, a.iterations), task_group=group,
                      randomization=str(paths.user_path(a.randomization)) if a.randomization else None, init=str(paths.user_path(a.init)) if a.init else None,
                      time_budget_s=getattr(a, "time_budget", None), critic_warmup=min(a.critic_warmup, a.iterations))
    if a.init_log_std is not None:
        if a.init:
            cfg.init_log_std_continued = a.init_log_std
        else:
            cfg.init_log_std = a.init_log_std
    if a.learning_rate is not None:
        cfg.learning_rate = a.learning_rate
    source, extra = None, {}
    if a.scheme == "epopt+adapt":
        if not a.target_data:
            raise ConfigError("--scheme epopt+adapt needs --target-data REC.mcap (recorded on the target: "
                              "`sim2real up --backend twin --reality FILE --record REC.mcap --duration 60`)")
        from sim2real.policy.adapt import adapt_source
        source, report = adapt_source(robot, paths.user_path(a.target_data), seed=a.seed,
                                      samples=a.adapt_samples, log=lambda m: print(m, file=sys.stderr, flush=True))
        extra = {"adaptation": report}
        print("\n".join(report["lines"]), file=sys.stderr, flush=True)
    elif a.target_data:
        raise ConfigError(f"--target-data is for --scheme epopt+adapt, not {a.scheme}")
    print(f"train policy: {robot.name}, scheme {a.scheme}, {cfg.envs} robots x {cfg.iterations} iterations "
          f"({cfg.iterations * cfg.envs * cfg.episode_s * robot.policy_rate_hz / 1e6:.2f} M steps); machine {_machine()}",
          file=sys.stderr, flush=True)
    res = train(robot, cfg, out, source=source, force=a.force, extra_meta=extra)
    f = res["final"]
    print(f"checkpoint: {res['checkpoint']} (+ .json, .onnx); curves: {Path(res['checkpoint']).with_suffix('')}-curve.png/.csv")
    if res["stopped"] == "time_budget":
        print(f"stopped on the time budget ({cfg.time_budget_s:.0f} s) after {res['iterations_done']} of "
              f"{cfg.iterations} iterations")
    chain = f" ({res['chain_wall_s'] / 60:.1f} min with the stages before it)" if res.get("chain_wall_s") else ""
    print(f"trained in {res['wall_s'] / 60:.1f} min{chain} ({res['env_steps'] / 1e6:.2f} M environment steps); last iteration: "
          f"return {f.get('mean_return', float('nan')):.1f}, worst 10% {f.get('worst10_return', float('nan')):.1f}, "
          f"success {f.get('success', float('nan')):.0%} on its training robots")
    return 0


def eval_policy(a) -> int:
    from sim2real.eval import policy as ev
    from sim2real.robots import load_robot
    from sim2real.sim.reality import NOMINAL, load_profile
    robot = load_robot(a.robot)
    profile = load_profile(paths.user_path(a.reality)) if a.reality else NOMINAL
    names = a.policies or list(ev.POLICY_NAMES)
    unknown = set(names) - set(ev.POLICY_NAMES)
    if unknown:
        raise ConfigError(f"unknown policy(ies) {', '.join(sorted(unknown))}; choose from {', '.join(ev.POLICY_NAMES)}")
    ckpts = ev.parse_checkpoints(a.checkpoints, robot, names)
    log = lambda m: print(m, file=sys.stderr, flush=True)   # noqa: E731
    for name, p in ckpts.items():
        trained = json.loads(p.with_suffix(".json").read_text()).get("scheme", "?")
        log(f"  {name}: {p} (in place of the shipped checkpoint" +
            (f"; trained as {trained})" if trained != name else ")"))
    log(f"eval policy: {robot.name} on the twin ({profile.name}), {a.episodes} targets each, lockstep; machine {_machine()}")
    if a.sweep:
        key, values = ev.parse_sweep(a.sweep)
        png = Path(a.out) / f"policy-sweep-{key}-{profile.name}.png"
        res = ev.sweep(robot, profile, names, key, values, a.episodes, a.seed, png, progress=log, checkpoints=ckpts)
        if a.json:
            print(json.dumps({"profile": profile.name, "sweep": key, "results": res,
                              "checkpoints": {k: str(v) for k, v in ckpts.items()}}, indent=1))
        else:
            cols = [f"{key}={v:g}" for v in values]
            w = max(11, *(len(c) for c in cols))
            print(f"{'policy':<12} " + " ".join(f"{c:>{w}}" for c in cols) + f" {'whole sweep':>22}")
            ci = lambda d: f"{d['value']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"   # noqa: E731
            for name, r in res.items():
                if "rows" not in r:
                    print(f"{name:<12} missing: {r['missing']}")
                    continue
                print(f"{name:<12} " + " ".join(f"{row['return']:.0f} / {row['worst10_return']:.1f}".rjust(w)
                                                 for row in r["rows"])
                      + f" {'worst 10% ' + ci(r['sweep_worst10']):>22}")
            print("  (mean / worst 10% return per target; whole sweep: the lowest tenth of every point's "
                  "returns, with a 90% bootstrap interval over the targets)")
            for name, r in res.items():
                if "versus" in r:
                    v = r["versus"]
                    print(f"{name} - {v['policy']}, worst 10% on the same targets: "
                          + ", ".join(f"{c} {ci(d)}" for c, d in zip(cols, v["worst10_diff"]))
                          + f"; whole sweep {ci(v['sweep_worst10_diff'])}")
            print(f"plot: {png}")
        return 0
    res = {"lockstep": ev.evaluate(robot, profile, names, a.episodes, a.seed, checkpoints=ckpts, progress=log)}
    if a.graph:
        res["graph"] = {}
        for name in names:
            if "missing" in res["lockstep"].get(name, {}):
                continue
            log(f"  {name}: the real-time ROS graph on the twin ({a.episodes} targets, "
                f"{a.episodes * ev_hold(robot):.0f} s)")
            res["graph"][name] = ev.evaluate_graph(robot, a.reality, name, a.episodes, a.seed, Path(a.out),
                                                   checkpoint=ckpts.get(name))
    if a.json:
        print(json.dumps({"profile": profile.name, "episodes": a.episodes, **res,
                          "checkpoints": {k: str(v) for k, v in ckpts.items()}}, indent=1))
        return 0
    for where, rows in res.items():
        print(f"{where} ({profile.name}, {a.episodes} targets): success = within "
              f"{100 * _tol(robot):.0f} cm for 0.5 s")
        print(f"  {'policy':<12} {'success':>8} {'final err':>10} {'return':>8} {'worst10%':>9} {'reach s':>8}")
        for name, s in rows.items():
            if "missing" in s:
                print(f"  {name:<12} missing: {s['missing']}")
                continue
            print(f"  {name:<12} {s['success']:>8.0%} {s['final_error_cm']:>8.2f}cm {s['return']:>8.1f} "
                  f"{s['worst10_return']:>9.1f} {s['time_to_reach_s']:>8.2f}")
    return 0


def _tol(robot) -> float:
    from sim2real.tasks.reach import ReachTask
    return ReachTask.from_robot(robot).tol_m


def ev_hold(robot) -> float:
    from sim2real.tasks.reach import ReachTask
    return ReachTask.from_robot(robot).hold_s


def bench_env(a) -> int:
    """Environment steps/s against bare physics steps/s of the same simulations, same run; and the
    tracking mismatch between the environment's controller and the graph's."""
    from sim2real.policy.env import ReachVecEnv
    from sim2real.robots import load_robot
    from sim2real.sim.randomize import load_randomization
    import mujoco
    from mujoco import rollout as mj_rollout
    robot = load_robot(a.robot)
    env = ReachVecEnv(robot, a.envs, source=load_randomization(robot), seed=a.seed)
    sims = env.sims
    env.reset()
    rng = np.random.default_rng(a.seed)
    sims.log_physics()
    rounds = []
    span = a.seconds / 2
    for _ in range(5):      # interleaved, short: the machine's speed drifts (by 30% within a minute here)
        steps0, t0 = sims.physics_steps, time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < span:
            env.step_async(rng.uniform(-1, 1, (a.envs, robot.n)).astype(np.float32))
            env.step_wait()
            k += 1
        env_rate = k * a.envs / (time.perf_counter() - t0)
        env_phys = (sims.physics_steps - steps0) / (time.perf_counter() - t0)
        # bare physics: the environment's last policy period replayed, the same models, states
        # and controls through one rollout call over the machine's threads, and nothing else
        S, U = sims.log[0].copy(), sims.log[1].reshape(a.envs, -1, sims.nu).copy()
        steps = U.shape[1]
        out = np.zeros((a.envs, steps, sims.nstate))
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < span:
            mj_rollout.rollout(sims.models, sims.datas, S, U, nstep=steps, state=out, skip_checks=True,
                               persistent_pool=True, chunk_size=sims.chunk)
            n += a.envs * steps
        bare = n / (time.perf_counter() - t0)
        t0, m1 = time.perf_counter(), 0
        d = mujoco.MjData(sims.models[0])
        while time.perf_counter() - t0 < span / 2:
            for i in range(a.envs):
                mujoco.mj_setState(sims.models[i], d, S[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
                for j in range(steps):
                    d.ctrl[:] = U[i, j]
                    mujoco.mj_step(sims.models[i], d)
            m1 += a.envs * steps
        one = m1 / (time.perf_counter() - t0)
        kept = sims.t != 0       # (a simulation reset after the period starts anew)
        replay_err = float(np.abs(out[kept, -1, 1:] - sims.S[kept, 1:]).max()) if kept.any() else 0.0   # (the time aside)
        rounds.append((env_rate, env_phys, bare, one, replay_err, env_phys / bare))
    r = np.median(np.array(rounds), axis=0)
    mismatch = tracking_mismatch(robot, seed=a.seed)
    res = {"robot": robot.name, "envs": a.envs, "threads": sims.threads, "machine": _machine(),
           "env_steps_per_s": float(r[0]), "env_physics_steps_per_s": float(r[1]),
           "bare_rollout_steps_per_s": float(r[2]), "bare_mj_step_one_thread_per_s": float(r[3]),
           "env_pct_of_bare": float(100 * r[5]), "env_pct_of_bare_rounds": [float(100 * x[5]) for x in rounds],
           "replay_max_state_diff": float(np.max(np.array(rounds)[:, 4])),
           **mismatch}
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"bench env: {robot.name}, {a.envs} randomized simulations, {sims.threads} threads; machine {_machine()}")
    print(f"  environment: {r[0]:,.0f} policy steps/s = {r[1]:,.0f} physics steps/s (resets, observations, rewards included)")
    print(f"  bare physics, the environment's last period replayed (same simulations, states and controls), "
          f"one rollout call: {r[2]:,.0f} steps/s "
          f"(mj_step loop, one thread: {r[3]:,.0f})")
    print(f"  environment at {res['env_pct_of_bare']:.0f}% of bare physics (median of 5 interleaved rounds: "
          f"{', '.join(f'{x:.0f}' for x in res['env_pct_of_bare_rounds'])}%)")
    print(f"  tracking mismatch, env controller vs the graph's {mismatch['graph_controller']} on the same desired "
          f"trajectory (nominal robot): joint RMS {mismatch['joint_rms_diff_mrad']:.1f} mrad, end effector RMS "
          f"{mismatch['ee_rms_diff_mm']:.1f} mm (tracking error itself: env {mismatch['env_track_rms_mrad']:.1f}, "
          f"graph {mismatch['graph_track_rms_mrad']:.1f} mrad)")
    return 0


def tracking_mismatch(robot, seed=0, seconds=6.0) -> dict:
    """The same desired trajectory (the planner's reaches, fed as a policy would publish them)
    tracked by the environment's controller and by the graph's (lockstep twin, nominal): how far
    apart the two arms go."""
    from sim2real.control.modes import default_mode, make_mode
    from sim2real.control.nominal_model import NominalModel
    from sim2real.control.reference import Desired
    from sim2real.policy.env import ReachSims
    from sim2real.policy.reach_planner import ReachPlanner
    from sim2real.sim.twin import Twin, run_lockstep
    from sim2real.tasks.reach import ReachTask
    task = ReachTask.from_robot(robot)
    targets = task.sample_targets(3, seed + 7)
    kin = NominalModel(robot)
    period = 1.0 / robot.policy_rate_hz
    n_pol = int(round(seconds / period))
    # the desired states at the policy rate, from the planner on an ideal arm (its own trajectory)
    plan = ReachPlanner(kin)
    des = []
    q = robot.home.copy()
    for k in range(n_pol):
        t = k * period
        if k % int(round(seconds / len(targets) / period)) == 0:
            plan.set_target(targets[min(int(t // (seconds / len(targets))), len(targets) - 1)], q, t)
        q_d, qd_d, _ = plan.desired(t, q)
        des.append((q_d, qd_d))
        q = q_d
    # graph: computed torque on the twin, desired extrapolated with its velocity
    mode = make_mode(default_mode(robot), robot)
    twin = Twin(robot)
    g_all: list[np.ndarray] = []     # true q at every control step (time k dt)

    def controller(stamp, q, qd, effort):
        k = min(int(stamp / period + 1e-9), n_pol - 1)
        q_d, qd_d = des[k]
        age = stamp - k * period
        return mode.command(stamp, q, qd, Desired(q_d + qd_d * age, qd_d), effort)

    def on_step(t, q, qd, cmd):
        g_all.append(q.copy())
    run_lockstep(twin, controller, seconds + period, on_step=on_step)
    per = int(round(period / robot.dt))
    g_q = [g_all[(k + 1) * per] for k in range(n_pol) if (k + 1) * per < len(g_all)]
    # env: the same desired states through the environment's loop (nominal robot, no noise)
    sims = ReachSims(robot, 1, seed=seed, threads=1)
    sims.fixed_start = robot.home.copy()
    sims.reset()
    e_q = []
    for k in range(n_pol):
        q_d, qd_d = des[k]
        sims.advance(q_d[None], qd_d[None])
        e_q.append(sims.S[0, sims.iq].copy())
    n = min(len(g_q), len(e_q))
    g, e = np.array(g_q[:n]), np.array(e_q[:n])
    dq = np.array([des[k + 1][0] if k + 1 < len(des) else des[k][0] for k in range(n)])
    ee = np.array([np.linalg.norm(kin.ee_position(a) - kin.ee_position(b)) for a, b in zip(g, e)])
    return {"graph_controller": default_mode(robot),
            "joint_rms_diff_mrad": float(1e3 * np.sqrt(np.mean((g - e) ** 2))),
            "ee_rms_diff_mm": float(1e3 * np.sqrt(np.mean(ee ** 2))),
            "env_track_rms_mrad": float(1e3 * np.sqrt(np.mean((e - dq) ** 2))),
            "graph_track_rms_mrad": float(1e3 * np.sqrt(np.mean((g - dq) ** 2)))}
