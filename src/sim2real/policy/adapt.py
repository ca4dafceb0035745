"""Source-distribution adaptation for EPOpt (Rajeswaran et al. 2016, section 3.2), from a
recording of the target robot (an .mcap of /joint_states and the commands the graph sent it;
`sim2real up --backend twin --reality FILE --record REC.mcap`): never from a profile file.

1. Draw M parameter vectors theta_i from the source distribution (config/randomization/<robot>.yaml
   through sim/randomize.py: the same flat vector the environment draws).
2. Likelihood of the recording under each: B short segments of H control periods are cut from
   the recording; each segment's first measured state is replayed through the robot model built
   for theta_i (sim/model_builder.py, as the twin builds it) with the recorded commands, passed
   through theta_i's command latency, actuator lag and motor strength; log L_i = -1/2 sum of
   squared errors of the predicted joint positions and velocities at the segment's end,
   normalised by SIGMA_Q, SIGMA_QD.
3. Importance weights w_i proportional to L_i^beta: beta tempers the likelihood so that the
   effective sample size is ESS_FRACTION of M (an untempered likelihood of thousands of samples
   puts all weight on one draw; tempering is the standard cure, and beta is reported).
4. The posterior refitted as a Gaussian: weighted mean and standard deviation per parameter
   (diagonal), the standard deviation floored at MIN_STD of the prior's range; draws are clipped
   to the prior's bounds. Parameters the data cannot tell apart (sensor noise) stay near the prior.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from sim2real.data.mcap_io import load_states_and_commands
from sim2real.errors import ConfigError
from sim2real.sim.model_builder import build_model, joint_indices

SEGMENT = 10          # control periods per segment (20 ms on the Jaco)
SEGMENTS = 300
SIGMA_Q = 0.003       # rad
SIGMA_QD = 0.05       # rad/s
ESS_FRACTION = 0.05
MIN_STD = 0.03        # of the prior's range
STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


@dataclass
class GaussianSource:
    """The adapted source: theta ~ N(mean, diag(std^2)) clipped to the prior's bounds, turned
    into a profile by the prior's own layout (Randomization.profile)."""
    prior: object          # sim/randomize.Randomization
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def names(self, robot):
        return self.prior.names(robot)

    def draw(self, robot, rng):
        return np.clip(rng.normal(self.mean, self.std), self.low, self.high)

    def profile(self, robot, theta, name: str = "adapted"):
        return self.prior.profile(robot, theta, name)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


def read_target(path: Path, robot, state_topic="/joint_states", command_topic=None):
    """(stamps (T,), q (T, n), qd (T, n), command answering each state (T, n) or NaN)."""
    rec = load_states_and_commands(path, robot.joint_names, state_topic, command_topic or robot.command_topic)
    ok = np.isfinite(rec["qd"]).all(1)
    if ok.sum() < 100 or len(rec["command"]) < 100:
        raise ConfigError(f"{path}: needs {state_topic} with velocities and {command_topic or robot.command_topic} "
                          f"(found {int(ok.sum())} states, {len(rec['command'])} commands); record the graph "
                          f"with `sim2real up ... --record`")
    cmd_of = np.full((len(rec["q"]), robot.n), np.nan)
    s_of = np.searchsorted(rec["state_log"], rec["command_log"], side="right") - 1   # the state each answers
    good = s_of >= 0
    cmd_of[s_of[good]] = rec["command"][good]
    return rec["stamp"][ok], rec["q"][ok], rec["qd"][ok], cmd_of[ok]


def _segments(stamps, cmd, dt, rng, lead: int) -> np.ndarray:
    """Start indices s of gap-free windows [s - lead, s + SEGMENT] with a command for every state."""
    good = np.concatenate([[False], np.abs(np.diff(stamps) - dt) < 0.5 * dt]) & np.isfinite(cmd).all(1)
    ok = []
    for s in range(lead + 1, len(stamps) - SEGMENT):
        if good[s - lead:s + SEGMENT + 1].all():
            ok.append(s)
    if len(ok) < 20:
        raise ConfigError(f"only {len(ok)} gap-free segments in the recording (need 20)")
    ok = np.array(ok)
    return np.sort(rng.choice(ok, size=min(SEGMENTS, len(ok)), replace=False))


def log_likelihoods(robot, prior, thetas: np.ndarray, stamps, q, qd, cmd, rng, log=print) -> np.ndarray:
    """log L of the recording's segments under each parameter vector (see the module docstring)."""
    from tqdm import tqdm
    dt = robot.dt
    sub = robot.substeps
    lead = 40          # commands before a segment, for latency and the lag filter's state
    starts = _segments(stamps, cmd, dt, rng, lead)
    B = len(starts)
    base = build_model(robot)
    qadr, dadr = joint_indices(base, robot.joint_names)
    gq, _ = joint_indices(base, robot.gripper_joints)
    nstate = mujoco.mj_stateSize(base, STATE)
    off = mujoco.mj_stateSize(base, mujoco.mjtState.mjSTATE_TIME)
    init = np.zeros((B, nstate))
    init[:, off + qadr] = q[starts]
    init[:, off + gq] = robot.gripper_hold
    init[:, off + base.nq + dadr] = qd[starts]
    end_q, end_qd = q[starts + SEGMENT], qd[starts + SEGMENT]
    # commands around each segment: c[b, k] answers state starts[b] - lead + k
    win = np.stack([cmd[s - lead:s + SEGMENT] for s in starts])           # (B, lead + SEGMENT, n)
    datas = [mujoco.MjData(base) for _ in range(2)]
    out = np.zeros((B, SEGMENT * sub, nstate))
    ll = np.zeros(len(thetas))
    for i, th in enumerate(tqdm(thetas, desc="adapt: likelihood of the target data", unit="model", mininterval=1.0)):
        prof = prior.profile(robot, th)
        r = prof.resolve(robot)
        model = build_model(robot, prof)
        k_lat = int(round(r.latency_command / dt))
        alpha = np.where(r.actuator_lag > 0, 1.0 - np.exp(-dt / np.maximum(r.actuator_lag, 1e-12)), 1.0)
        # the torque at control step k of the window: command answering state k - k_lat, lagged, scaled
        delayed = np.roll(win, k_lat, axis=1)
        delayed[:, :k_lat] = win[:, :1]
        tau = np.empty_like(delayed)
        f = delayed[:, 0].copy()
        for k in range(delayed.shape[1]):
            f += alpha * (delayed[:, k] - f)
            tau[:, k] = f
        tau = np.clip(tau * r.motor_strength, -robot.effort_limit, robot.effort_limit)
        ctrl = np.zeros((B, SEGMENT * sub, model.nu))
        ctrl[:, :, :robot.n] = np.repeat(tau[:, lead:lead + SEGMENT], sub, axis=1)
        ctrl[:, :, robot.n:] = robot.gripper_hold
        mj_rollout.rollout([model] * B, datas, init, ctrl, nstep=SEGMENT * sub, state=out, skip_checks=True,
                           persistent_pool=True)
        pq, pqd = out[:, -1, off + qadr], out[:, -1, off + base.nq + dadr]
        e = np.concatenate([((pq - end_q) / SIGMA_Q).ravel(), ((pqd - end_qd) / SIGMA_QD).ravel()])
        ll[i] = -0.5 * float(np.sum(np.minimum(e * e, 400.0)))   # a robust cap: one glitch is not a verdict
    return ll


def tempered_weights(ll: np.ndarray, ess_fraction: float = ESS_FRACTION) -> tuple[np.ndarray, float, float]:
    """(weights, beta, effective sample size): w ~ exp(beta (ll - max)), beta by bisection so
    that ESS = ess_fraction * M (beta = 1 if the plain likelihood already spreads wider)."""
    M = len(ll)
    z = ll - ll.max()

    def ess(beta):
        w = np.exp(beta * z)
        w /= w.sum()
        return 1.0 / np.sum(w * w), w
    target = max(2.0, ess_fraction * M)
    e1, w1 = ess(1.0)
    if e1 >= target:
        return w1, 1.0, e1
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ess(mid)[0] >= target:
            lo = mid
        else:
            hi = mid
    e, w = ess(lo)
    return w, lo, e


def adapt_source(robot, path: Path, seed: int = 0, samples: int = 1000, log=print) -> tuple[GaussianSource, dict]:
    """The adapted source distribution and a report (figures and lines to print)."""
    from sim2real.sim.randomize import load_randomization
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--target-data {path}: no such recording")
    prior = load_randomization(robot)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    stamps, q, qd, cmd = read_target(path, robot)
    thetas = np.stack([prior.draw(robot, rng) for _ in range(samples)])
    ll = log_likelihoods(robot, prior, thetas, stamps, q, qd, cmd, rng, log)
    w, beta, ess = tempered_weights(ll)
    lo, hi = prior.bounds(robot)
    mean = w @ thetas
    std = np.sqrt(np.maximum(w @ (thetas - mean) ** 2, (MIN_STD * (hi - lo)) ** 2))
    src = GaussianSource(prior, mean, std, lo, hi)
    names = prior.names(robot)
    prior_std = (hi - lo) / np.sqrt(12)
    lines = [f"adapt: {samples} draws weighed against {path.name} ({len(stamps)} states) in "
             f"{time.perf_counter() - t0:.0f} s; tempering beta {beta:.3g}, effective sample size {ess:.0f}",
             f"  {'parameter':<26} {'prior mean +- std':>20} {'posterior mean +- std':>24}"]
    order = np.argsort(std / np.maximum(prior_std, 1e-12))   # the best-identified first
    for j in order[:12]:
        lines.append(f"  {names[j]:<26} {0.5 * (lo[j] + hi[j]):>10.4g} +- {prior_std[j]:<8.3g} "
                     f"{mean[j]:>12.4g} +- {std[j]:<8.3g}")
    report = {"recording": str(path), "samples": samples, "beta": beta, "ess": ess, "names": names,
              "mean": mean.tolist(), "std": std.tolist(), "lines": lines}
    return src, report
