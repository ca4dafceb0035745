"""`sim2real eval policy`: reach policies on the twin, in lockstep (sim/twin.py, no ROS), as the
graph runs them: the policy at its rate (decimated on state stamps, as ros/nodes/policy_base.py),
its desired state extrapolated with its velocity by the robot's baseline controller (as
ros/nodes/controller.py), torques through the safety filter to the twin under the profile.

An episode is one target: targets from the task's workspace (seeded), each held hold_s (4 s on
the Jaco), one after another from wherever the arm is, as `sim2real up` cycles them. Per episode:
  success          the end effector within the task's tolerance (2 cm) for 0.5 s in a row
  final_error_m    distance at the end of the target's window
  return           sum over policy periods of -2 d + 0.5 [d < tol] (the training reward without
                   its action term, so the planner is scored alike)
  time_to_reach_s  from the target's appearance to the start of the first successful 0.5 s
Figures are printed, never asserted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sim2real import paths
from sim2real.errors import ConfigError

POLICY_NAMES = ("nominal", "dr", "epopt", "epopt+adapt", "planner")
HOLD_S = 0.5


def checkpoint_kind(scheme: str) -> str:
    """The default checkpoint of a training scheme: paths.checkpoint(robot, this)."""
    return "reach_policy_" + scheme.replace("+", "_")


@dataclass
class ReachEpisode:
    success: bool
    final_error_m: float
    ret: float
    time_to_reach_s: float


class _Planner:
    name = "planner"

    def __init__(self, robot, nominal):
        from sim2real.policy.reach_planner import ReachPlanner
        self.p = ReachPlanner(nominal)
        self.target = None

    def act(self, t, q, qd, target):
        if self.target is None or not np.array_equal(target, self.target):
            self.p.set_target(target, q, t)
            self.target = np.array(target)
        q_d, qd_d, _ = self.p.desired(t, q)
        return q_d, qd_d


class _Learned:
    def __init__(self, path, robot, nominal):
        from sim2real.policy.runtime import LearnedReach
        self.p = LearnedReach(path, robot, nominal)
        self.name = self.p.scheme

    def set_loop_delay(self, seconds: float) -> None:
        self.p.set_loop_delay(seconds)

    def act(self, t, q, qd, target):
        q_d, qd_d, _ = self.p.act(q, qd, target)
        return (q, np.zeros_like(q)) if q_d is None else (q_d, qd_d)


def load_policy(name: str, robot, nominal, checkpoint=None):
    """The planner, or a learned policy from `checkpoint` (default: the scheme's shipped one)."""
    if name == "planner":
        return _Planner(robot, nominal)
    path = checkpoint or paths.checkpoint(robot.name, checkpoint_kind(name))
    return _Learned(path, robot, nominal)


def run_reach(robot, profile, policy, n_targets: int, seed: int = 0, mode_name: str | None = None) -> list[ReachEpisode]:
    """n_targets episodes of `policy` on the twin under `profile`, in lockstep."""
    from sim2real.control.modes import default_mode, make_mode
    from sim2real.control.nominal_model import NominalModel
    from sim2real.control.reference import Desired
    from sim2real.safety.filter import SafetyFilter
    from sim2real.sim.twin import Twin, run_lockstep
    from sim2real.tasks.reach import ReachTask

    task = ReachTask.from_robot(robot)
    targets = task.sample_targets(n_targets, seed)
    kin = NominalModel(robot)
    mode = make_mode(mode_name or default_mode(robot), robot)
    twin = Twin(robot, profile)
    safety = SafetyFilter(robot)      # run_lockstep measures the loop's delay into it, as the filter node does
    period = 1.0 / robot.policy_rate_hz
    horizon = 2.0 * period
    st = {"next": None, "q_d": None, "qd_d": None, "t_d": 0.0}

    def controller(stamp, q, qd, effort):
        if st["next"] is None or stamp >= st["next"] - 1e-9:
            _, tgt = task.target_at(targets, stamp)
            if hasattr(policy, "set_loop_delay"):    # as the node reads it off the filter's /diagnostics
                policy.set_loop_delay(safety.loop_delay_s)
            st["q_d"], st["qd_d"] = policy.act(stamp, q, qd, tgt)
            st["t_d"] = stamp
            st["next"] = stamp + period if st["next"] is None or st["next"] < stamp - period else st["next"] + period
        age = min(max(stamp - st["t_d"], 0.0), horizon)
        return mode.command(stamp, q, qd, Desired(st["q_d"] + st["qd_d"] * age, st["qd_d"]), effort)

    ts, dist = [], []
    every = max(1, int(round(period / robot.dt)))
    count = [0]

    def on_step(t, q, qd, cmd):
        if count[0] % every == 0:
            _, tgt = task.target_at(targets, t)
            ts.append(t)
            dist.append(float(np.linalg.norm(kin.ee_position(q) - tgt)))
        count[0] += 1

    run_lockstep(twin, controller, n_targets * task.hold_s, safety=safety, on_step=on_step)
    return score(np.array(ts), np.array(dist), n_targets, task, period)


def score(ts, dist, n_targets, task, period) -> list[ReachEpisode]:
    out = []
    need = int(round(HOLD_S / period))
    for i in range(n_targets):
        w = (ts >= i * task.hold_s - 1e-9) & (ts < (i + 1) * task.hold_s - 1e-9)
        d = dist[w]
        if len(d) == 0:
            break
        near = d < task.tol_m
        run, reach = 0, np.inf
        for k, ok in enumerate(near):
            run = run + 1 if ok else 0
            if run >= need:
                reach = (k - need + 1) * period
                break
        ret = float(np.sum(-2.0 * d + 0.5 * near))
        out.append(ReachEpisode(bool(np.isfinite(reach)), float(d[-1]), ret, float(reach)))
    return out


def worst10(returns, axis: int = -1):
    """Mean of the lowest 10% of returns (at least one) along `axis`: the EPOpt paper's tail."""
    r = np.sort(np.asarray(returns, dtype=float), axis=axis)
    k = max(1, r.shape[axis] // 10)
    return np.take(r, np.arange(k), axis=axis).mean(axis=axis)


def paired_interval(stat, a: np.ndarray, b: np.ndarray | None = None, *, draws: int = 2000,
                    level: float = 0.9, seed: int = 0) -> dict:
    """stat(a) (or stat(a) - stat(b)) with a percentile bootstrap interval. a and b hold returns
    per target along their last axis, the same targets in the same order (the same seed): a draw
    resamples the targets once for both, so what the targets drawn move cancels in a difference.
    Consecutive targets share the arm's start state, so the interval treats weakly dependent
    episodes as independent."""
    a = np.asarray(a, dtype=float)
    b = None if b is None else np.asarray(b, dtype=float)

    def f(i):
        return float(stat(a[..., i])) - (0.0 if b is None else float(stat(b[..., i])))
    value = f(slice(None))
    idx = np.random.default_rng(seed).integers(0, a.shape[-1], size=(draws, a.shape[-1]))
    boot = np.array([f(i) for i in idx])
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return {"value": value, "lo": float(lo), "hi": float(hi), "level": level}


def summarize(eps: list[ReachEpisode]) -> dict:
    r = np.array([e.ret for e in eps])
    reach = [e.time_to_reach_s for e in eps if e.success]
    return {"episodes": len(eps), "success": float(np.mean([e.success for e in eps])) if eps else float("nan"),
            "final_error_cm": 100 * float(np.mean([e.final_error_m for e in eps])) if eps else float("nan"),
            "return": float(r.mean()) if len(r) else float("nan"),
            "worst10_return": float(worst10(r)) if len(r) else float("nan"),
            "time_to_reach_s": float(np.median(reach)) if reach else float("nan")}


def evaluate(robot, profile, names, episodes: int, seed: int = 0, checkpoints: dict | None = None,
             progress=print) -> dict:
    """{policy name: summary} for each name (a missing checkpoint: {'missing': why})."""
    from sim2real.control.nominal_model import NominalModel
    nominal = NominalModel(robot)
    out = {}
    for name in names:
        try:
            pol = load_policy(name, robot, nominal, (checkpoints or {}).get(name))
        except ConfigError as e:
            out[name] = {"missing": str(e)}
            continue
        t0 = time.perf_counter()
        out[name] = summarize(run_reach(robot, profile, pol, episodes, seed))
        out[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        inf = np.array(getattr(getattr(pol, "p", None), "infer_s", []) or [np.nan]) * 1e3
        out[name]["inference_ms_p50"], out[name]["inference_ms_p99"] = (float(np.percentile(inf, 50)),
                                                                        float(np.percentile(inf, 99)))
        progress(f"  {name}: success {out[name]['success']:.0%} ({out[name]['wall_s']} s"
                 + (f"; ONNX Runtime inference p50 {out[name]['inference_ms_p50']:.3f} ms, p99 "
                    f"{out[name]['inference_ms_p99']:.3f} ms)" if np.isfinite(inf).all() else ")"))
    return out


def with_param(profile, key: str, value: float):
    """The profile with one dynamics parameter set (the sweep's axis): payload (kg) or a scalar
    dynamics key (mass_scale, ...)."""
    import copy

    from sim2real.sim.reality import RealityProfile, parse_profile
    data = copy.deepcopy(profile.data)
    dyn = data.setdefault("dynamics", {})
    if key == "payload":
        dyn["payload"] = {"mass": float(value), "offset": dyn.get("payload", {}).get("offset", [0.0, 0.0, 0.0])}
    else:
        dyn[key] = float(value)
    data["name"] = f"{profile.name}+{key}={value:g}"
    return RealityProfile(parse_profile(data, f"sweep {key}={value}").data, profile.path)


def parse_checkpoints(items, robot, names) -> dict:
    """['epopt=runs/x.pt', ...] -> {scheme: path}: checkpoints evaluated in place of the shipped
    ones, each loaded once here (a file that is not a reach policy for `robot` is an error now,
    not a 'missing' row later) and each for a policy in `names`."""
    from sim2real.policy.runtime import LearnedReach
    out = {}
    for it in items or []:
        name, sep, path = it.partition("=")
        if not sep or name not in POLICY_NAMES or name == "planner" or not path:
            raise ConfigError(f"--checkpoints {it!r}: expected SCHEME=FILE.pt with SCHEME one of "
                              f"{', '.join(n for n in POLICY_NAMES if n != 'planner')}")
        if name in out:
            raise ConfigError(f"--checkpoints: {name} is given twice")
        if name not in names:
            raise ConfigError(f"--checkpoints {it!r}: {name} is not among the policies evaluated "
                              f"({', '.join(names)}; add it to --policies)")
        p = paths.user_path(path)
        if not p.is_file():
            raise ConfigError(f"--checkpoints {it!r}: no such file {p}")
        LearnedReach(p, robot)          # ConfigError naming what does not fit
        out[name] = p
    return out


def parse_sweep(text: str) -> tuple[str, np.ndarray]:
    """'payload=0:1.5' or 'payload=0:1.5:7' -> (key, values)."""
    try:
        key, rng = text.split("=", 1)
        parts = [float(x) for x in rng.split(":")]
        lo, hi = parts[0], parts[1]
        k = int(parts[2]) if len(parts) > 2 else 7
    except (ValueError, IndexError):
        raise ConfigError(f"--sweep {text!r}: expected KEY=LOW:HIGH[:COUNT], e.g. payload=0:1.5") from None
    if key not in ("payload", "mass_scale", "ground_friction") or k < 2 or hi < lo:
        raise ConfigError(f"--sweep {text!r}: KEY is payload, mass_scale or ground_friction, LOW <= HIGH, COUNT >= 2")
    return key, np.linspace(lo, hi, k)


def sweep(robot, profile, names, key, values, episodes, seed, out_png, progress=print,
          checkpoints: dict | None = None) -> dict:
    """Return (mean and worst 10%) of each policy across one parameter; plots the EPOpt paper's
    robustness figure to out_png."""
    from sim2real.control.nominal_model import NominalModel
    nominal = NominalModel(robot)
    res: dict[str, dict] = {}
    returns: dict[str, np.ndarray] = {}
    for name in names:
        try:
            pol = load_policy(name, robot, nominal, (checkpoints or {}).get(name))
        except ConfigError as e:
            res[name] = {"missing": str(e)}
            continue
        rows, rets = [], []
        for v in values:
            eps = run_reach(robot, with_param(profile, key, v), pol, episodes, seed)
            s = summarize(eps)
            rets.append([e.ret for e in eps])
            rows.append({key: float(v), **s})
            progress(f"  {name} {key}={v:g}: return {s['return']:.1f}, worst 10% {s['worst10_return']:.1f}, "
                     f"success {s['success']:.0%}")
        res[name] = {"rows": rows}
        returns[name] = np.array(rets)          # (points, targets)
    compare_tails(res, returns)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for name, r in res.items():
        if "rows" not in r:
            continue
        x = [row[key] for row in r["rows"]]
        ax[0].plot(x, [row["return"] for row in r["rows"]], marker="o", label=name)
        line, = ax[1].plot(x, [row["worst10_return"] for row in r["rows"]], marker="o", label=name)
        ax[1].fill_between(x, [row["worst10_interval"]["lo"] for row in r["rows"]],
                           [row["worst10_interval"]["hi"] for row in r["rows"]], color=line.get_color(), alpha=0.15)
    ax[0].set_title("mean return")
    ax[1].set_title("worst 10% return (band: 90% bootstrap over targets)")
    for a in ax:
        a.set_xlabel(f"{key}{' (kg)' if key == 'payload' else ''}")
        a.grid(alpha=0.3)
    ax[0].set_ylabel(f"return per target ({episodes} targets)")
    ax[1].legend()
    fig.suptitle(f"{robot.name}: robustness across {key} ({profile.name})")
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return res


def sweep_worst10(returns: np.ndarray) -> float:
    """The worst 10% of a whole sweep: the lowest tenth of every point's returns pooled."""
    return worst10(returns.reshape(-1))


def compare_tails(res: dict, returns: dict) -> None:
    """Adds 90% bootstrap intervals to each policy's sweep result: each point's worst 10%
    ("worst10_interval") and the whole sweep's ("sweep_worst10"); for every policy after the first,
    the paired differences to the first on the same targets ("versus"), per point and pooled."""
    names = list(returns)
    for name in names:
        for row, r in zip(res[name]["rows"], returns[name]):
            row["worst10_interval"] = paired_interval(worst10, r)
        res[name]["sweep_worst10"] = paired_interval(sweep_worst10, returns[name])
    for name in names[1:]:
        a, b = returns[name], returns[names[0]]
        res[name]["versus"] = {
            "policy": names[0],
            "worst10_diff": [paired_interval(worst10, a[k], b[k]) for k in range(len(a))],
            "sweep_worst10_diff": paired_interval(sweep_worst10, a, b)}


def evaluate_graph(robot, reality, name: str, episodes: int, seed: int, out_dir, checkpoint=None) -> dict:
    """The real-time ROS graph on the twin (`sim2real up --backend twin`, one process) with the
    policy, recorded, then scored from the recording like the lockstep runs: windows start at
    each /sim/target stamp; distances from the nominal FK of the measured joints, at 50 Hz."""
    from sim2real.control.nominal_model import NominalModel
    from sim2real.data.mcap_io import load_joint_states, read_messages
    from sim2real.graph import build_graph
    from sim2real.ros.compose import Composition
    from sim2real.tasks.reach import ReachTask

    task = ReachTask.from_robot(robot)
    kw = {"policy": "planner"} if name == "planner" else {
        "policy": "learned", "policy_checkpoint": str(checkpoint or paths.checkpoint(robot.name, checkpoint_kind(name)))}
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = out_dir / f"graph-{name.replace('+', '_')}-{int(time.time())}.mcap"
    decls = build_graph(robot.name, "twin", str(paths.user_path(reality)) if reality else None, record=str(rec),
                        duration_s=episodes * task.hold_s + 0.5, camera=False, targets=episodes, task_seed=seed, **kw)
    t0 = time.perf_counter()
    with Composition(decls) as c:
        c.spin(until_driver_done=True, timeout_s=episodes * task.hold_s * 3 + 30)
    wall = time.perf_counter() - t0
    js = load_joint_states(rec)
    tg = [(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec, np.array([m.point.x, m.point.y, m.point.z]))
          for _, m, _ in read_messages(rec, ["/sim/target"])]
    if not len(js["t"]) or not tg:
        return {"missing": f"{rec}: no joint states or targets recorded"}
    idx = [js["names"].index(n) for n in robot.joint_names]
    kin = NominalModel(robot)
    period = 1.0 / robot.policy_rate_hz
    t0s = tg[0][0]
    grid = np.arange(t0s, min(js["t"][-1], t0s + episodes * task.hold_s), period)
    k = np.clip(np.searchsorted(js["t"], grid), 0, len(js["t"]) - 1)
    dist = []
    for tt, j in zip(grid, k):
        cur = [p for ts, p in tg if ts <= tt + 1e-9]
        dist.append(float(np.linalg.norm(kin.ee_position(js["q"][j][idx]) - cur[-1])))
    s = summarize(score(grid - t0s, np.array(dist), episodes, task, period))
    s["wall_s"] = round(wall, 1)
    s["recording"] = str(rec)
    return s
