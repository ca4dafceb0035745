"""The policy's training environment: many reach simulations stepped together, each with its own
dynamics drawn from a source distribution, on MuJoCo's threaded multi-simulation API.

Contract (one environment; `ReachVecEnv` is N of them, `ReachEnv` is one as a gymnasium.Env):
  observation  float32 (layout: policy/reach_core.ReachLayout; 4n + 6 [+ extrinsics] values):
               measured q, qd, the target (true + noise), target - FK(measured q), desired lead,
               previous action [, extrinsics]
  action       float32 in [-1, 1]^n: a desired joint speed (reach_core.ReachCore.desired), turned
               into the desired next joint state at the policy rate (50 Hz, Mordatch et al. 2015)
  step         one policy period: the desired state goes through the command latency, then a
               tracking controller runs at the control rate (500 Hz) inside the physics for
               robot.substeps * (policy period / control period) physics steps
  reward       reach_core.reward: -2 d + 0.5 [d < tol] - 0.02 |a - a_prev|^2 / n
               - 0.02 |q - home|^2 / n (d: true end effector to target, m; q true joints, rad)
  episode      episode_s of simulated time (truncation only; no termination), TARGETS targets
               one after another (each episode_s / TARGETS, as the graph cycles them); reset draws a new
               robot from the source, a start posture (half the time home + U(-0.4, 0.4) rad,
               half the time the nominal IK of another workspace point + U(-0.2, 0.2) rad) and a
               target in the task's workspace
  info         "dist" (m), "params" (the drawn parameter vector, the privileged information RMA
               encodes), at the episode's end "success" (within tol for the last 0.5 s),
               "final_error" (m), "terminal_observation"
Randomized per episode (config/randomization/<robot>.yaml through sim/randomize.py, the one
sampler; the model is built by sim/model_builder.py from the drawn profile exactly as the twin
is): link masses and inertias, payload mass and offset, joint friction, damping, armature, motor
strength (the tracker's gains), actuator lag (a first-order filter on the actuator), command and
state latency (delayed desired states at the control period's resolution; observations from
that many physics steps ago), position and velocity noise on the observations. Target noise:
TARGET_NOISE m std per episode offset plus per step.

The tracking controller. The graph's baseline is computed torque on the nominal model,
tau = M(q) a_ref + h(q, qd) + friction; evaluating M and h per simulation per 2 ms step in
Python would cost several times the physics. Here it is a joint-space PD inside MuJoCo's
actuators with the same bandwidth at the home posture (Kp = kp M_jj(home), Kv = kd M_jj(home)),
nominal gravity compensation through the bodies' gravcomp (1 / mass_scale: the nominal links'
weight, never the payload), the nominal damping and friction fed forward from the desired
velocity, and the torque limits as the actuators' force range. `sim2real bench env` measures
its tracking against the graph's controller on the same desired trajectory.

Hooks for what follows: `extrinsics` (RMA's latent slot; `extrinsics_fn(params) -> z`), `ground`
(GAT: policy action -> grounded action before the simulator), `source` (any object with
draw/profile, e.g. the adapted Gaussian of policy/adapt.py).
"""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import rollout as mj_rollout
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from sim2real.control.nominal_model import NominalModel
from sim2real.errors import ConfigError
from sim2real.policy.reach_core import ReachCore, reward
from sim2real.sim.model_builder import PAYLOAD_BODY, build_spec, joint_indices
from sim2real.sim.reality import NOMINAL
from sim2real.tasks.reach import ReachTask

TARGET_NOISE = 0.003    # m std of the target the policy sees (a per-episode offset, half of it per step)
START_SPREAD = 0.4      # rad around home
HOLD_S = 0.5            # success: within tol for this long at the episode's end
TARGETS = 2             # per episode: the second starts from wherever the first left the arm
STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
MAX_LATENCY_STEPS = 2   # policy periods a delayed action or observation can reach back
OBS_BOUND = 100.0       # observations are scaled to order 1 (policy/reach_core.py); this bounds the space


class TrackerGains:
    """The env's joint PD: the baseline's bandwidth at the home posture, in N m/rad, N m s/rad."""

    def __init__(self, robot, nominal: NominalModel):
        M, _ = nominal.dynamics(robot.home, np.zeros(robot.n))
        m = np.diag(M)
        self.kp, self.kv = robot.kp * m, robot.kd * m
        self.damping = nominal.model.dof_damping[nominal.dadr].copy()
        self.friction = nominal.frictionloss.copy()

    def ctrl(self, q_d, qd_d) -> np.ndarray:
        """The actuator setpoint that makes kp (set - q) - kv qd = kp (q_d - q) + kv (qd_d - qd) +
        the nominal damping and friction at the desired velocity."""
        ff = self.kv * qd_d + self.damping * qd_d + self.friction * np.tanh(qd_d / 0.02)
        return q_d + ff / self.kp


def training_model(robot, profile, gains: TrackerGains) -> mujoco.MjModel:
    """The twin's model for `profile` (sim/model_builder.py), with the tracker in its actuators."""
    spec = build_spec(robot, profile)
    r = profile.resolve(robot)
    dyn = profile.section("dynamics")
    lag = r.actuator_lag
    for j, jn in enumerate(robot.joint_names):
        a = spec.actuator(f"motor_{jn}")
        s = r.motor_strength[j]
        kp, kv = gains.kp[j] * s, gains.kv[j] * s
        a.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        a.gainprm[0] = kp
        a.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        a.biasprm[0], a.biasprm[1], a.biasprm[2] = 0.0, -kp, -kv
        a.dyntype = mujoco.mjtDyn.mjDYN_FILTEREXACT
        a.dynprm[0] = max(float(lag[j]), 1e-4)
        a.ctrllimited = False
        a.forcelimited = True
        a.forcerange = [-robot.effort_limit[j] * s, robot.effort_limit[j] * s]
    ms = dyn.get("mass_scale", 1.0)
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
                 ground: Callable | None = None, threads: int = 2, targets: int = TARGETS):
        if robot.end_effector is None or robot.floating_base:
            raise ConfigError(f"robot '{robot.name}': the reach environment needs a fixed-base robot with an end effector")
        self.robot, self.n, self.source = robot, n, source
        self.task = ReachTask.from_robot(robot)
        self.core = ReachCore(robot, self.task, extrinsics)
        self.nominal = NominalModel(robot)
        self.gains = TrackerGains(robot, self.nominal)
        self.extrinsics_fn, self.ground = extrinsics_fn, ground
        self.rng = np.random.default_rng(seed)
        self.decim = int(round((1.0 / robot.policy_rate_hz) / robot.physics_dt))   # physics steps per action
        self.horizon = int(round(episode_s * robot.policy_rate_hz))
        self.hold_steps = int(round(HOLD_S * robot.policy_rate_hz))
        self.switch_every = max(1, self.horizon // targets)
        self.threads = threads
        base = training_model(robot, NOMINAL, self.gains)
        self.qadr, self.dadr = joint_indices(base, robot.joint_names)
        self.gq, _ = joint_indices(base, robot.gripper_joints)
        self.nu = base.nu
        self.motor = np.arange(robot.n)    # motors are the first actuators (model_builder adds them first)
        self.nstate = mujoco.mj_stateSize(base, STATE)
        off = mujoco.mj_stateSize(base, mujoco.mjtState.mjSTATE_TIME)
        self.iq = off + self.qadr
        self.iv = off + base.nq + self.dadr
        self.models: list[mujoco.MjModel] = [base] * n
        self.datas = [mujoco.MjData(base) for _ in range(threads)]
        self._scratch = mujoco.MjData(base)
        self.n_params = 0 if source is None else len(source.names(robot))
        self.params = np.zeros((n, self.n_params))
        # per-env episode state
        nj = robot.n
        self.S = np.zeros((n, self.nstate))
        self.hist = np.zeros((n, 2 * self.decim, self.nstate))     # the last two policy periods' states
        # the controller's setpoints of the last periods, per physics step (oldest first)
        self.ctrl_hist = np.zeros((n, (MAX_LATENCY_STEPS + 1) * self.decim, self.nu))
        self.lat_cmd = np.zeros(n, int)     # physics steps
        self.lat_obs = np.zeros(n, int)
        self.pos_noise = np.zeros((n, nj))
        self.vel_noise = np.zeros((n, nj))
        self.target = np.zeros((n, 3))
        self.target_bias = np.zeros((n, 3))
        self.q_d = np.zeros((n, nj))
        self.q_meas = np.zeros((n, nj))    # what each policy saw last (its action is relative to it)
        self.prev_action = np.zeros((n, nj))
        self.t = np.zeros(n, int)
        self.near = np.zeros(n, int)
        self.ret = np.zeros(n)
        self.last_returns = np.zeros(n)      # of each env's last finished episode
        self.last_success = np.zeros(n, bool)
        self.last_final_error = np.zeros(n)
        self._ctrl = np.zeros((n, self.decim, self.nu))
        self._ramp = np.arange(self.decim) * robot.physics_dt
        self._out = np.zeros((n, self.decim, self.nstate))
        self.physics_steps = 0

    # ---- episodes -----------------------------------------------------------------------------
    def reset(self, idx=None) -> np.ndarray:
        idx = range(self.n) if idx is None else idx
        for i in idx:
            self._reset_one(i)
        return self._observe(np.asarray(list(idx)) if not isinstance(idx, range) else np.arange(self.n))

    def _reset_one(self, i: int) -> None:
        r = self.robot
        if self.source is None:
            prof, theta = NOMINAL, np.zeros(0)
        else:
            theta = self.source.draw(r, self.rng)
            prof = self.source.profile(r, theta)
        model = training_model(r, prof, self.gains) if self.source is not None else self.models[0]
        self.models[i] = model
        self.params[i] = theta
        res = prof.resolve(r)
        self.lat_cmd[i] = min(int(round(res.latency_command / r.physics_dt)), MAX_LATENCY_STEPS * self.decim - 1)
        self.lat_obs[i] = min(int(round(res.latency_state / r.physics_dt)), 2 * self.decim - 1)
        self.pos_noise[i], self.vel_noise[i] = res.position_noise, res.velocity_noise
        d = self._scratch
        mujoco.mj_resetData(model, d)
        q0 = self._start_posture()
        d.qpos[self.qadr] = q0
        d.qpos[self.gq] = r.gripper_hold
        ctrl = np.zeros(self.nu)
        ctrl[self.motor] = self.gains.ctrl(q0, np.zeros(r.n))
        ctrl[r.n:] = r.gripper_hold
        d.ctrl[:] = ctrl
        d.act[:] = ctrl[self.motor]      # the filtered setpoint starts at the hold
        mujoco.mj_forward(model, d)
        mujoco.mj_getState(model, d, self.S[i], STATE)
        self.hist[i] = self.S[i]
        self.ctrl_hist[i] = ctrl
        self._new_target(i)
        self.q_d[i] = q0
        self.prev_action[i] = 0.0
        self.t[i] = 0
        self.near[i] = 0
        self.ret[i] = 0.0

    def _new_target(self, i: int) -> None:
        self.target[i] = self.rng.uniform(self.task.low, self.task.high)
        self.target_bias[i] = self.rng.normal(0.0, TARGET_NOISE, 3)
        self.near[i] = 0

    def _start_posture(self) -> np.ndarray:
        """Half the episodes start near home, half near where a reach to another target ends
        (nominal IK), as the second and later targets of a run do."""
        r = self.robot
        if self.rng.random() < 0.5:
            q0 = r.home + self.rng.uniform(-START_SPREAD, START_SPREAD, r.n)
        else:
            q_ik, _ = self.nominal.ik(self.rng.uniform(self.task.low, self.task.high), r.home, iters=60, tol=5e-3)
            q0 = q_ik + self.rng.uniform(-START_SPREAD / 2, START_SPREAD / 2, r.n)
        return np.clip(q0, self.core.lo, self.core.hi)

    # ---- stepping -----------------------------------------------------------------------------
    def _measured(self, idx) -> tuple[np.ndarray, np.ndarray]:
        """The delayed, noisy joint state each env's policy sees now."""
        k = 2 * self.decim - 1 - self.lat_obs[idx]
        s = self.hist[idx, k]
        q = s[:, self.iq] + self.rng.standard_normal((len(idx), self.robot.n)) * self.pos_noise[idx]
        qd = s[:, self.iv] + self.rng.standard_normal((len(idx), self.robot.n)) * self.vel_noise[idx]
        return q, qd

    def _ee(self, q: np.ndarray) -> np.ndarray:
        return np.stack([self.nominal.ee_position(x) for x in q])

    def _observe(self, idx: np.ndarray) -> np.ndarray:
        q, qd = self._measured(idx)
        self.q_meas[idx] = q
        seen = self.target[idx] + self.target_bias[idx] + self.rng.normal(0.0, TARGET_NOISE / 2, (len(idx), 3))
        z = self.extrinsics_fn(self.params[idx]) if self.extrinsics_fn is not None else None
        return self.core.observe(q, qd, seen, self._ee(q), self.q_d[idx], self.prev_action[idx], z)

    def step(self, action: np.ndarray):
        n, r = self.n, self.robot
        action = np.clip(np.asarray(action, float).reshape(n, r.n), -1.0, 1.0)
        if self.ground is not None:
            action = self.ground(action)
        q_d, qd_d = self.core.desired(action, self.q_meas, self.q_d)
        # the controller extrapolates the desired state with its velocity at every physics step
        s = self._ramp[None, :, None]
        self.ctrl_hist[:, :-self.decim] = self.ctrl_hist[:, self.decim:]
        self.ctrl_hist[:, -self.decim:, self.motor] = self.gains.ctrl(q_d[:, None, :] + qd_d[:, None, :] * s,
                                                                       qd_d[:, None, :])
        self.ctrl_hist[:, -self.decim:, r.n:] = r.gripper_hold
        # physics step j of this period acts on the setpoint computed lat_cmd steps before it
        k = self.ctrl_hist.shape[1] - self.decim + np.arange(self.decim)[None, :] - self.lat_cmd[:, None]
        self._ctrl[:] = np.take_along_axis(self.ctrl_hist, k[:, :, None], axis=1)
        q_d = q_d + qd_d * self.core.period     # where the desired position is at the next action
        mj_rollout.rollout(self.models, self.datas, self.S, self._ctrl, nstep=self.decim, state=self._out,
                           skip_checks=True, persistent_pool=self.threads > 1)
        self.physics_steps += n * self.decim
        self.hist[:, :self.decim] = self.hist[:, self.decim:]
        self.hist[:, self.decim:] = self._out
        self.S[:] = self._out[:, -1]
        ee_true = self._ee(self.S[:, self.iq])
        dist = np.linalg.norm(ee_true - self.target, axis=1)
        rew = reward(dist, action, self.prev_action, self.task.tol_m, self.S[:, self.iq], self.robot.home)
        self.q_d, self.prev_action = q_d, action
        self.t += 1
        self.near = np.where(dist < self.task.tol_m, self.near + 1, 0)
        self.ret += rew
        done = self.t >= self.horizon
        for i in np.flatnonzero((self.t % self.switch_every == 0) & ~done):
            self._new_target(i)
        obs = self._observe(np.arange(n))
        infos = [{"dist": float(dist[i]), "params": self.params[i].copy()} for i in range(n)]
        for i in np.flatnonzero(done):
            self.last_returns[i], self.last_success[i] = self.ret[i], self.near[i] >= self.hold_steps
            self.last_final_error[i] = dist[i]
            infos[i].update(success=bool(self.near[i] >= self.hold_steps), final_error=float(dist[i]),
                            terminal_observation=obs[i], episode_return=float(self.ret[i]),
                            TimeLimit_truncated=True)
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
                self.sims.rng = np.random.default_rng(s)
        self._reset_seeds()
        return self.sims.reset()

    def step_async(self, actions):
        self._actions = actions

    def step_wait(self):
        return self.sims.step(self._actions)

    def close(self):
        pass

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
            self.sims.rng = np.random.default_rng(seed)
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
