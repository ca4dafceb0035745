"""The policy's training environment: many reach simulations stepped together, each with its own
dynamics drawn from a source distribution, on MuJoCo's multi-simulation API (mujoco.rollout:
per-simulation MjModels, so randomized dynamics cost nothing extra). The simulations run in
blocks, one per core (`threads`, default 2; policy/blocks.py): block 0 in this process, each
other in a forked process of its own sharing the arrays (blocks.BlockProcess), so the blocks' controllers, in
numpy, and their physics run side by side. `sim2real bench env` sets the throughput beside bare
physics (the same period replayed in one threaded rollout call): one rollout call over all the
simulations per control period, the pool idle during the Python between calls, gave 37-41%; two
blocks as threads (rollout releases the GIL, numpy does not) 49-51%; as processes 56-59%.

Contract (one environment; `ReachVecEnv` is N of them, `ReachEnv` is one as a gymnasium.Env):
  observation  float32 (layout: policy/reach_core.ReachLayout; 4n + 6 [+ extrinsics] values):
               measured q, qd (delayed and noisy as the robot's sensors), the target (true +
               noise), target - FK(measured q), desired lead, previous action [, extrinsics:
               the known features (`features`: "loop_delay", the loop's delay as the safety
               filter measures it, below), then RMA's latent]
  action       float32 in [-1, 1]^n: a desired joint speed (reach_core.ReachCore.desired; with
               speed_lag > 0 low-passed over a time proportional to the loop's delay,
               ReachCore.command_speed), turned into the desired state the policy publishes at
               its rate (50 Hz, Mordatch et al. 2015)
  step         one policy period: the graph's loop below it at the control rate (500 Hz) for
               policy period / control period steps, each robot.substeps physics steps
  reward       reach_core.reward: -2 d + 0.5 [d < tol] + 0.5 exp(-d / 1 cm) - 0.02 |a - a_prev|^2 / n
               - 0.1 |q - home|^2 / n - 0.15 |u|^2 / n (d: true end effector to target, m; q true
               joints, rad; u the load utilization of a reference 1 kg at the hand in the posture
               measured at the step's end, reach_core.load_utilization: the share of each
               joint's authority under the graph's controller that holding it takes)
  episode      episode_s of simulated time (truncation only; no termination), TARGETS targets
               one after another (each episode_s / TARGETS, as the graph cycles them); reset draws
               a new robot from the source, a start posture (a third each: home + U(-0.4, 0.4) rad,
               home + U(-0.8, 0.8) rad, the nominal IK of another workspace point + U(-0.2, 0.2)
               rad; within the limits) and a target in the task's workspace; with task_group > 1
               the simulations run in groups on common targets, target offsets and start postures
               (each still its own robot), so that returns within a group compare robots; the
               parameters named in `group_shares` (EPOpt: the latencies, which the policy
               observes as the loop's delay) and the delay's excess are drawn once per group too
  info         "dist" (m), "params" (the drawn parameter vector, the privileged information RMA
               encodes), at the episode's end "success" (within tol for the last 0.5 s),
               "final_error" (m), "terminal_observation"

The loop below the policy, per control period, as the twin runs the graph (sim/twin.py): the
state measured `latency.state` ago (+ sensor noise) goes to the controller and the safety filter
(safety/filter.py: effort limit, position wall, velocity governor), whose torque reaches the
motors `latency.command` later, through the actuator lag (first order) and the motor
strength, clipped to the effort limits; then the physics. Randomized per episode
(config/randomization/<robot>.yaml through sim/randomize.py, the one sampler; the model is the
twin's, built by sim/model_builder.py from the drawn profile): link masses and inertias, payload
mass and offset, joint friction, damping, armature (in the model); motor strength, actuator lag,
command and state latency, position and velocity noise (in the loop). Target noise: TARGET_NOISE
m std per episode offset, half of it per step. Not modelled: drops, jitter, backlash, driver faults.

The loop's delay (the safety filter's velocity cap and damper, and the policy's "loop_delay"
feature): what safety/filter.LoopDelay measures on the twin, ROUND_TRIP x the age of the state
behind the command, (latency.state / dt + 1) control periods, plus 0-DELAY_EXCESS periods drawn
per episode for what the drops and jitter the loop does not model add to the peak-held figure
(measured on the twin: 16 ms by the formula, 20-24 ms with laggy-noisy's drops; 36 -> 36-44 ms).

The controller (blocks.Tracker). The graph's baseline is computed torque on the nominal model,
tau = M(q) (a_ref + z) + h(q, qd) + friction, with a_ref from control/reference.py (the same reference
model here) and z its hold term (control/computed_torque.HoldTerm, one row per simulation). Evaluating M(q) and h per simulation per step in Python would cost several times the
physics, so the environment evaluates the nominal M(q) once a policy period (from the measured
joints), keeps the nominal damping and friction terms, leaves out Coriolis, and puts the nominal
gravity inside the physics (bodies' gravcomp = 1 / mass_scale: the nominal links' weight, never
the payload's; it bypasses the motors' strength and lag, which the graph's does not). M's
diagonal alone was not enough: under 14 ms of latency and 20 ms of actuator lag the decoupling
of the full M keeps the loop stable where the diagonal oscillated. `sim2real bench env` measures its tracking against the graph's controller
on the same desired trajectory.

Hooks for what follows: `extrinsics` (RMA's latent slot; `extrinsics_fn(params) -> z`), `ground`
(GAT: policy action -> grounded action before the simulator), `source` (any object with
names/draw/profile, e.g. the adapted Gaussian of policy/adapt.py).
"""
from __future__ import annotations

import multiprocessing
import weakref
from typing import Callable

import gymnasium as gym
import mujoco
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from sim2real.control.nominal_model import NominalModel
from sim2real.errors import ConfigError
from sim2real.policy.blocks import HISTORY, Block, BlockProcess, block_rng, shared_zeros, stop_workers
from sim2real.policy.reach_core import ReachCore, reward
from sim2real.safety.filter import DAMPER_DELAY_S, LoopDelay
from sim2real.sim.model_builder import PAYLOAD_BODY, build_spec, joint_indices
from sim2real.sim.reality import NOMINAL
from sim2real.tasks.reach import ReachTask

TARGET_NOISE = 0.003    # m std of the target the policy sees (a per-episode offset, half of it per step)
START_SPREAD = 0.4      # rad around home
HOLD_S = 0.5            # success: within tol for this long at the episode's end
TARGETS = 2             # per episode: the second starts from wherever the first left the arm
STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
DELAY_EXCESS = 2        # control periods the measured loop delay may exceed its formula by (drops, jitter)
OBS_BOUND = 100.0       # observations are scaled to order 1 (policy/reach_core.py); this bounds the space


def training_model(robot, profile) -> mujoco.MjModel:
    """The twin's model for `profile` (sim/model_builder.py) with the nominal links' weight
    compensated in the physics (gravcomp)."""
    spec = build_spec(robot, profile)
    ms = profile.section("dynamics").get("mass_scale", 1.0)
    links = [b for b in spec.bodies if b.name and b.name not in ("world", PAYLOAD_BODY) and not b.mocap]
    for k, b in enumerate(links):
        scale = ms[k] if isinstance(ms, list) else (ms.get(b.name, 1.0) if isinstance(ms, dict) else ms)
        b.gravcomp = 1.0 / scale
    pb = spec.body(PAYLOAD_BODY)
    if pb is not None and not pb.geoms:     # every model of a set has the same size signature
        pb.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.001, 0, 0], rgba=[0, 0, 0, 0],
                    contype=0, conaffinity=0, mass=0)
    return spec.compile()


class ReachSims:
    """N reach simulations (batched numpy in, batched numpy out). See the module docstring."""

    def __init__(self, robot, n: int, *, source=None, seed: int = 0, episode_s: float = 8.0,
                 extrinsics: int = 0, extrinsics_fn: Callable | None = None,
                 ground: Callable | None = None, threads: int = 2, targets: int = TARGETS,
                 task_group: int = 1, features: tuple[str, ...] = (), speed_lag: float = 0.0,
                 group_shares: tuple[str, ...] = ()):
        if robot.end_effector is None or robot.floating_base or robot.actuation != "effort":
            raise ConfigError(f"robot '{robot.name}': the reach environment needs a fixed-base, torque-controlled "
                              f"robot with an end effector")
        self.robot, self.n, self.source = robot, n, source
        self.task = ReachTask.from_robot(robot)
        self.core = ReachCore(robot, self.task, extrinsics, features=features, speed_lag=speed_lag)
        self.nominal = NominalModel(robot)
        self.gravity = float(np.linalg.norm(self.nominal.model.opt.gravity))
        self._loop_delay = shared_zeros(n)
        self.extrinsics_fn, self.ground = extrinsics_fn, ground
        self.rng = np.random.default_rng(seed)
        # common random numbers: simulations i and j with i // task_group == j // task_group start
        # each episode from the same posture towards the same targets (with the same target
        # offset), each on its own drawn robot, so their returns differ by the robot alone (EPOpt
        # ranks robots within a group: policy/train.py)
        if task_group < 1 or n % task_group:
            raise ConfigError(f"task_group {task_group} must divide the number of simulations ({n})")
        self.seed, self.task_group = seed, task_group
        # parameters drawn once per group (each robot keeps its own draw of the rest): what the
        # policy observes, e.g. the latencies behind its loop_delay feature, so EPOpt's ranking
        # within a group compares robots under one context and not slow loops against fast ones
        names = source.names(robot) if source is not None else []
        unknown = [k for k in group_shares if not any(nm == k or nm.startswith(k + "[") for nm in names)]
        if source is not None and unknown:
            raise ConfigError(f"group_shares {unknown}: not parameters of the source ({', '.join(names)})")
        self.group_shares = tuple(group_shares) if task_group > 1 else ()
        self._shared_ix = np.array([j for j, nm in enumerate(names)
                                    if any(nm == k or nm.startswith(k + "[") for k in self.group_shares)], int)
        self.task_rng: list[np.random.Generator] = [self.rng] * n
        self.episodes = np.zeros(n, int)
        self.ctrl_per_action = int(round(robot.control_rate_hz / robot.policy_rate_hz))
        self.substeps = robot.substeps
        self.horizon = int(round(episode_s * robot.policy_rate_hz))
        self.hold_steps = int(round(HOLD_S * robot.policy_rate_hz))
        self.switch_every = max(1, self.horizon // targets)
        # one block per core; where processes cannot fork (not Linux), one block
        forks = "fork" in multiprocessing.get_all_start_methods()
        self.threads = max(1, min(int(threads), n)) if forks else 1
        self.chunk = -(-n // self.threads)   # bench env's bare rollout: one chunk per thread (the default, n / 10 threads, syncs 10x as often)
        base = training_model(robot, NOMINAL)
        self.qadr, self.dadr = joint_indices(base, robot.joint_names)
        self.gq, _ = joint_indices(base, robot.gripper_joints)
        self.nu = base.nu
        self.nstate = mujoco.mj_stateSize(base, STATE)
        off = mujoco.mj_stateSize(base, mujoco.mjtState.mjSTATE_TIME)
        self.iq = off + self.qadr
        self.iv = off + base.nq + self.dadr
        self.iqv = np.concatenate([self.iq, self.iv])
        self.models: list[mujoco.MjModel] = [base] * n
        self.datas = [mujoco.MjData(base) for _ in range(self.threads)]
        self._scratch = mujoco.MjData(base)
        self.n_params = 0 if source is None else len(source.names(robot))
        self.params = np.zeros((n, self.n_params))
        nj = robot.n
        self._rows = np.arange(n)
        # the loop's per-simulation effects
        self.lat_cmd = shared_zeros(n, int)      # control periods
        self.lat_state = shared_zeros(n, int)
        self.alpha = shared_zeros((n, nj))   # actuator lag filter gain per control period
        self.strength = shared_zeros((n, nj))
        self.alpha[:], self.strength[:] = 1.0, 1.0
        self.noise_std = shared_zeros((n, 2, nj))           # position, velocity noise
        self.pos_noise, self.vel_noise = self.noise_std[:, 0], self.noise_std[:, 1]
        # the loop's state: physics, true joint history, command history, lagged torque
        self.S = shared_zeros((n, self.nstate))
        self.xh = shared_zeros((n, HISTORY, 2, nj))     # (q, qd) history
        self.qh, self.qdh = self.xh[:, :, 0], self.xh[:, :, 1]
        self.cmdh = shared_zeros((n, HISTORY, nj))
        self.lagged = shared_zeros((n, nj))
        self.k = 0                           # control periods stepped (history index k % HISTORY)
        # the policy's side
        self.target = np.zeros((n, 3))
        self.target_bias = np.zeros((n, 3))
        self.q_d = np.zeros((n, nj))
        self.q_meas = shared_zeros((n, nj))      # what each policy saw last (its action is relative to it)
        self.qd_meas = shared_zeros((n, nj))     # ... and the controller's first state of the period
        self.prev_action = np.zeros((n, nj))
        self.v_cmd = np.zeros((n, nj))       # the desired speed (reach_core.ReachCore.command_speed)
        self.t = np.zeros(n, int)
        self.near = np.zeros(n, int)
        self.ret = np.zeros(n)
        self.last_returns = np.zeros(n)      # of each env's last finished episode
        self.last_success = np.zeros(n, bool)
        self.last_final_error = np.zeros(n)
        self._ctrl = shared_zeros((n, self.substeps, self.nu))
        self._ctrl[:, :, nj:] = robot.gripper_hold
        self._out = shared_zeros((n, self.substeps, self.nstate))
        self.physics_steps = 0
        self.fixed_start: np.ndarray | None = None   # every episode from this posture (benchmarks)
        # the loop runs in blocks of rows, one per core (Block)
        edges = np.linspace(0, n, self.threads + 1).round().astype(int)
        self.blocks = [Block(self, b, int(edges[b]), int(edges[b + 1]), base) for b in range(self.threads)]
        self._block_of = np.repeat(np.arange(self.threads), np.diff(edges))
        self.M = shared_zeros((n, nj, nj))               # the tracker's nominal inertia, this period's
        for blk in self.blocks:
            blk.tracker.M = self.M[blk.sl]
        # the last period's physics input, kept once log_physics() asks
        self.log = (shared_zeros(self.S.shape), shared_zeros((n, self.ctrl_per_action, self.substeps, self.nu)))
        self.log_on = False
        # block 0 runs in this process, each other block in a process of its own (forked: it
        # shares the arrays above; a model drawn here for one of its rows is sent with the next run)
        self._pending: list[dict[int, mujoco.MjModel]] = [{} for _ in self.blocks]
        self._workers = [BlockProcess(self, blk) for blk in self.blocks[1:]]
        self._finalizer = weakref.finalize(self, stop_workers, list(self._workers))

    # ---- episodes -----------------------------------------------------------------------------
    def reset(self, idx=None) -> np.ndarray:
        idx = np.arange(self.n) if idx is None else np.asarray(idx)
        for i in idx:
            self._reset_one(int(i))
        return self._observe(idx)

    def _reset_one(self, i: int) -> None:
        r = self.robot
        if self.source is None:
            prof, theta = NOMINAL, np.zeros(0)
            model = self.models[0]
        else:
            theta = self.source.draw(r, self.rng)
            if len(self._shared_ix):
                theta[self._shared_ix] = self.source.draw(r, self._group_rng(i, 1))[self._shared_ix]
            prof = self.source.profile(r, theta)
            model = training_model(r, prof)
        self.models[i] = model
        self._pending[self._block_of[i]][i] = model
        self.params[i] = theta
        blk = self.blocks[self._block_of[i]]
        blk.tracker.hold.reset(i - blk.start)
        res = prof.resolve(r)
        self.lat_cmd[i] = min(int(round(res.latency_command / r.dt)), HISTORY // 2 - 1)
        self.lat_state[i] = min(int(round(res.latency_state / r.dt)), HISTORY // 2 - 1)
        # the graph's filter sets its velocity cap and damper for the delay it measures (the
        # state's age at the next state, twice: safety/filter.LoopDelay); so does each row here,
        # and the policy sees the same figure (a randomized robot's drops and jitter: the excess)
        excess_rng = self._group_rng(i, 2) if len(self._shared_ix) else self.rng
        excess = int(excess_rng.integers(0, DELAY_EXCESS + 1)) if self.source is not None else 0
        d = LoopDelay.ROUND_TRIP * (self.lat_state[i] + 1 + excess) * r.dt
        # the filter starts at 0 and takes a measured delay once it moves its gains (LoopDelay.update:
        # past DAMPER_DELAY_S by more than CHANGE), so a fast loop reads 0 there
        self._loop_delay[i] = d if d > (1.0 + LoopDelay.CHANGE) * DAMPER_DELAY_S else 0.0
        blk.safety.set_loop_delay(self._loop_delay[blk.sl])
        self.alpha[i] = np.where(res.actuator_lag > 0, 1.0 - np.exp(-r.dt / np.maximum(res.actuator_lag, 1e-12)), 1.0)
        self.strength[i] = res.motor_strength
        self.pos_noise[i], self.vel_noise[i] = res.position_noise, res.velocity_noise
        if self.task_group > 1:
            self.task_rng[i] = self._group_rng(i, 0)
        else:
            self.task_rng[i] = self.rng
        d = self._scratch
        mujoco.mj_resetData(model, d)
        q0 = self._start_posture(self.task_rng[i])
        d.qpos[self.qadr] = q0
        d.qpos[self.gq] = r.gripper_hold
        d.ctrl[r.n:] = r.gripper_hold
        mujoco.mj_forward(model, d)
        mujoco.mj_getState(model, d, self.S[i], STATE)
        self.qh[i], self.qdh[i] = q0, 0.0
        # the loop starts as a robot that was holding still: the motors already give the static
        # torque (what the physics' gravity compensation leaves, e.g. the payload's weight)
        hold = (d.qfrc_bias[self.dadr] - d.qfrc_passive[self.dadr]) / self.strength[i]
        self.cmdh[i] = hold
        self.lagged[i] = hold
        self._new_target(i)
        self.episodes[i] += 1
        self.q_d[i] = q0
        self.prev_action[i] = 0.0
        self.v_cmd[i] = 0.0
        self.t[i] = 0
        self.ret[i] = 0.0

    def _group_rng(self, i: int, stream: int) -> np.random.Generator:
        """The draws simulation i shares with its task group this episode (stream 0: targets and
        start; 1: the shared parameters; 2: the loop delay's excess)."""
        key = [self.seed, int(self.episodes[i]), i // self.task_group]
        return np.random.default_rng(key + [stream] if stream else key)

    def _new_target(self, i: int) -> None:
        rng = self.task_rng[i]
        self.target[i] = rng.uniform(self.task.low, self.task.high)
        self.target_bias[i] = rng.normal(0.0, TARGET_NOISE, 3)
        self.near[i] = 0

    def _start_posture(self, rng: np.random.Generator) -> np.ndarray:
        """A third of the episodes start near home, a third far from it, a third near where a
        reach to another target ends (nominal IK), as the second and later targets of a run do."""
        r = self.robot
        if self.fixed_start is not None:
            return self.fixed_start.copy()
        u = rng.random()
        if u < 1 / 3:
            q0 = r.home + rng.uniform(-START_SPREAD, START_SPREAD, r.n)
        elif u < 2 / 3:   # far from home, as a long run of targets may leave the arm
            q0 = r.home + rng.uniform(-2 * START_SPREAD, 2 * START_SPREAD, r.n)
        else:
            q_ik, _ = self.nominal.ik(rng.uniform(self.task.low, self.task.high), r.home, iters=60, tol=5e-3)
            q0 = q_ik + rng.uniform(-START_SPREAD / 2, START_SPREAD / 2, r.n)
        return np.clip(q0, self.core.lo, self.core.hi)

    # ---- the loop below the policy ------------------------------------------------------------
    def measured(self, idx=None) -> tuple[np.ndarray, np.ndarray]:
        """The joint state each simulation's sensors deliver now: measured latency.state ago, noisy."""
        idx = self._rows if idx is None else idx
        h = (self.k - self.lat_state[idx]) % HISTORY
        q = self.qh[idx, h] + self.rng.standard_normal((len(idx), self.robot.n)) * self.pos_noise[idx]
        qd = self.qdh[idx, h] + self.rng.standard_normal((len(idx), self.robot.n)) * self.vel_noise[idx]
        return q, qd

    def advance(self, q_d: np.ndarray, qd_d: np.ndarray) -> None:
        """One policy period of the loop for a desired state published now: (q_d, qd_d) (N, n),
        extrapolated with its velocity to each measurement's time, as the controller node does.
        Each block of rows in its own process (Block.run), all at once."""
        k0 = self.k
        if self.log_on:
            self.log[0][:] = self.S
        for w in self._workers:
            pending, self._pending[w.blk.b] = self._pending[w.blk.b], {}
            w.start_run(q_d, qd_d, k0, pending, self.log_on)
        self.blocks[0].run(self, q_d, qd_d, k0)
        for w in self._workers:
            w.finish_run()
        self.k = k0 + self.ctrl_per_action
        self.physics_steps += self.n * self.ctrl_per_action * self.substeps

    def log_physics(self) -> None:
        """Keep the last period's physics input: the states it started from and the controls
        each step got (self.log; `sim2real bench env` replays them as bare physics)."""
        self.log_on = True

    def reseed(self, seed: int) -> None:
        """The random streams from this seed: draws, targets (self.rng) and each block's sensor noise."""
        self.rng = np.random.default_rng(seed)
        for b in self.blocks:
            b.rng = block_rng(seed, b.b)
        for w in self._workers:
            w.call("seed", seed)

    def close(self) -> None:
        """Stops the blocks' processes (also done when this object is collected or the
        interpreter exits)."""
        self._finalizer()

    # ---- the policy's step --------------------------------------------------------------------
    def _observe(self, idx: np.ndarray, measured: tuple | None = None) -> np.ndarray:
        """The observation of rows idx: of their state measured now (`measured`: (q, qd, FK(q))
        as the blocks took it at the end of the period)."""
        if measured is None:     # (resets) in this thread, the blocks idle
            q, qd = self.measured(idx)
            M = np.empty((len(idx), self.robot.n, self.robot.n))
            ee = self.blocks[0].tracker.inertia(q, self.nominal.data, M)
            self.M[idx] = M
        else:
            q, qd, ee = measured
        self.q_meas[idx], self.qd_meas[idx] = q, qd
        seen = self.target[idx] + self.target_bias[idx] + self.rng.normal(0.0, TARGET_NOISE / 2, (len(idx), 3))
        z = self.extrinsics_fn(self.params[idx]) if self.extrinsics_fn is not None else None
        return self.core.observe(q, qd, seen, ee, self.q_d[idx], self.prev_action[idx], z,
                                 {"loop_delay": self._loop_delay[idx]})

    def step(self, action: np.ndarray):
        n, r = self.n, self.robot
        action = np.clip(np.asarray(action, float).reshape(n, r.n), -1.0, 1.0)
        if self.ground is not None:
            action = self.ground(action)
        self.v_cmd = self.core.command_speed(action, self.v_cmd, self._loop_delay)
        q_d, qd_d = self.core.desired(action, self.q_meas, self.q_d, self.v_cmd)
        self.advance(q_d, qd_d)
        q_true = self.S[:, self.iq]
        cat = lambda name: np.concatenate([getattr(b, name) for b in self.blocks])   # noqa: E731
        ee_true, load = cat("ee"), cat("load")
        dist = np.linalg.norm(ee_true - self.target, axis=1)
        rew = reward(dist, action, self.prev_action, self.task.tol_m, q_true, r.home, load)
        self.q_d, self.prev_action = q_d + qd_d * self.core.period, action
        self.t += 1
        self.near = np.where(dist < self.task.tol_m, self.near + 1, 0)
        self.ret += rew
        done = self.t >= self.horizon
        for i in np.flatnonzero((self.t % self.switch_every == 0) & ~done):
            self._new_target(i)
        obs = self._observe(self._rows, (cat("q_obs"), cat("qd_obs"), cat("ee_obs")))
        infos = [{"dist": float(dist[i]), "params": self.params[i].copy()} for i in range(n)]
        for i in np.flatnonzero(done):
            self.last_returns[i], self.last_success[i] = self.ret[i], self.near[i] >= self.hold_steps
            self.last_final_error[i] = dist[i]
            infos[i].update(success=bool(self.near[i] >= self.hold_steps), final_error=float(dist[i]),
                            terminal_observation=obs[i], episode_return=float(self.ret[i]))
            infos[i]["TimeLimit.truncated"] = True
        if done.any():
            di = np.flatnonzero(done)
            for i in di:
                self._reset_one(i)
            obs[di] = self._observe(di)
        return obs, rew.astype(np.float32), done, infos


class ReachVecEnv(VecEnv):
    """ReachSims as a stable-baselines3 VecEnv."""

    def __init__(self, robot, n: int, **kw):
        self.sims = ReachSims(robot, n, **kw)
        size = self.sims.core.layout.size
        obs_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (size,), np.float32)
        act_space = gym.spaces.Box(-1.0, 1.0, (robot.n,), np.float32)
        self.render_mode = None
        super().__init__(n, obs_space, act_space)
        self._actions = None

    def reset(self):
        for i, s in enumerate(self._seeds):
            if s is not None:
                self.sims.reseed(s)
        self._reset_seeds()
        return self.sims.reset()

    def step_async(self, actions):
        self._actions = actions

    def step_wait(self):
        return self.sims.step(self._actions)

    def close(self):
        self.sims.close()

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name, value, indices=None):
        setattr(self, attr_name, value)

    def env_method(self, method_name, *args, indices=None, **kwargs):
        return [getattr(self, method_name)(*args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(self._get_indices(indices))


class ReachEnv(gym.Env):
    """One reach simulation as a gymnasium.Env (passes gymnasium's env_checker)."""
    metadata = {"render_modes": []}

    def __init__(self, robot, **kw):
        kw.setdefault("threads", 1)
        self.sims = ReachSims(robot, 1, **kw)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (self.sims.core.layout.size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (robot.n,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.sims.reseed(seed)
        obs = self.sims.reset()
        return obs[0], {"params": self.sims.params[0].copy()}

    def step(self, action):
        obs, rew, done, infos = self.sims.step(np.asarray(action)[None])
        info = infos[0]
        if done[0]:
            obs = info.pop("terminal_observation")[None]
            info.pop("TimeLimit.truncated", None)
            info.pop("TimeLimit_truncated", None)
        return obs[0], float(rew[0]), False, bool(done[0]), info
