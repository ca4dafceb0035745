"""Controller mode `inverse_dynamics`: Christiano et al. 2016, a learned inverse dynamics model.

The network maps the k most recent observations o = [q, qd], the k-1 most recent actions and the
desired next observation to the action: a_t = f(o_{t-k+1..t}, a_{t-k+1..t-1}, o_bar_{t+L}).
It is trained only on a recording of the target robot (`sim2real train inverse-dynamics --mcap`).
Observations enter as o_t and differences to o_t (the same information, better conditioned for a
small network); the desired observation comes from the reference model (reference.py), like
every other mode's. L and the action kind are stored in the checkpoint.

Which action (`--action`):
  command  the /effort_controller/commands that answered each state (the paper's setting).
           With transport latency and actuator lag the command at t barely moves o_(t+1), and a
           smooth command is best predicted by the previous ones: the network learns to imitate
           the recording's controller rather than the robot's inverse dynamics (measured: it
           diverges in closed loop on the twin).
  effort   the joint torque the robot *applied*, as /joint_states reports it (Jaco has joint
           torque sensors): the mean over t+1..t+L is what moved o_t to o_(t+L), a well-posed
           inverse dynamics target free of the transport delay. The command is then that torque
           over a slow motor-strength estimate (produced / commanded torque). Default.

Until k consecutive states have been seen (start, after a dropped state) or when the network
returns something non-finite, the computed torque on the nominal model runs instead and `status`
says so.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from sim2real.control.computed_torque import ComputedTorque
from sim2real.control.local_linear import (DelayLine, MotorStrength, measured_torques, predict_velocity,
                                           shift_desired)
from sim2real.learn.checkpoint import check_layout, load_checkpoint
from sim2real.control.reference import ReferenceModel
from sim2real.data.mcap_io import load_states_and_commands
from sim2real.errors import ConfigError


def features(obs_hist: np.ndarray, act_hist: np.ndarray, target: np.ndarray) -> np.ndarray:
    """obs_hist (k, 2n) oldest first, act_hist (k-1, n), target (2n,) -> network input."""
    o_t = obs_hist[-1]
    return np.concatenate([o_t, (obs_hist[:-1] - o_t).ravel(), act_hist.ravel(), target - o_t])


def dataset_from_mcap(path: str | Path, robot, k: int = 3, lookahead: int = 1, action: str = "effort",
                      state_topic: str = "/joint_states",
                      command_topic: str = "/effort_controller/commands") -> tuple[np.ndarray, np.ndarray]:
    """(inputs (N, d), actions (N, n)) from a recording; pairs each command with the newest state
    logged before it and keeps only samples whose history and target are gap-free."""
    names, n, dt = list(robot.joint_names), robot.n, robot.dt
    if action not in ("effort", "command"):
        raise ConfigError(f"inverse dynamics: action must be 'effort' or 'command', not {action!r}")
    rec = load_states_and_commands(path, names, state_topic, command_topic)
    if not len(rec["q"]):
        raise ConfigError(f"{path}: no {state_topic} messages")
    st_log, st_stamp, eff = rec["state_log"], rec["stamp"], rec["effort"]
    obs = np.concatenate([rec["q"], rec["qd"]], axis=1)
    cmd_log, cmds = rec["command_log"], rec["command"]
    if action == "effort":
        return _effort_samples(path, obs, eff, st_stamp, k, lookahead, dt)
    if not len(cmds):
        raise ConfigError(f"{path}: no {command_topic} messages (or use action 'effort')")
    s_of = np.searchsorted(st_log, cmd_log, side="right") - 1          # state each command answers
    cmd_of_state = -np.ones(len(obs), int)
    ok = s_of >= 0
    cmd_of_state[s_of[ok]] = np.flatnonzero(ok)
    X, Y = [], []
    for i in np.flatnonzero(ok):
        s = s_of[i]
        if s - k + 1 < 0 or s + lookahead >= len(obs):
            continue
        span = st_stamp[s - k + 1:s + lookahead + 1]
        if np.any(np.abs(np.diff(span) - dt) > 0.5 * dt):
            continue                                       # a dropped or late state inside
        prev = cmd_of_state[s - k + 1:s]
        if np.any(prev < 0):
            continue
        X.append(features(obs[s - k + 1:s + 1], cmds[prev], obs[s + lookahead]))
        Y.append(cmds[i])
    if not X:
        raise ConfigError(f"{path}: no gap-free samples (k={k}, lookahead={lookahead})")
    return np.array(X), np.array(Y)


def _effort_samples(path, obs, eff, stamps, k, lookahead, dt):
    """Samples whose action is the applied torque: the effort a state reports acted during the step
    before it, so the mean of efforts s+1..s+L moved o_s to o_(s+L); the action history is the
    efforts s-k+2..s."""
    if np.isnan(eff).all():
        raise ConfigError(f"{path}: /joint_states carry no effort; use action 'command'")
    X, Y = [], []
    gaps = np.abs(np.diff(stamps) - dt) > 0.5 * dt
    bad = np.concatenate([[False], gaps])       # bad[i]: state i does not follow i-1 by one period
    for s in range(k - 1, len(obs) - lookahead):
        if bad[s - k + 2:s + lookahead + 1].any():
            continue
        window = eff[s + 1:s + lookahead + 1]
        hist = eff[s - k + 2:s + 1]
        if np.isnan(window).any() or np.isnan(hist).any():
            continue
        X.append(features(obs[s - k + 1:s + 1], hist, obs[s + lookahead]))
        Y.append(window.mean(0))
    if not X:
        raise ConfigError(f"{path}: no gap-free samples (k={k}, lookahead={lookahead})")
    return np.array(X), np.array(Y)


class InverseDynamicsMode:
    name = "inverse_dynamics"

    def __init__(self, model, checkpoint, latency_s: float = 0.0, lag_s: float = 0.0):
        r = model.robot
        self.robot, self.n, self.dt, self.limit = r, r.n, r.dt, r.effort_limit
        self.net, self.meta = load_checkpoint(checkpoint, "inverse_dynamics", r)
        try:
            self.k, self.lookahead = int(self.meta["history"]), int(self.meta["lookahead"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{checkpoint}: the metadata needs integer history and lookahead") from None
        self.action = self.meta.get("action", "command")
        self.strength = MotorStrength(r.n, r.dt, 0.5, r.effort_limit)
        # features(): k observations, k-1 actions and the target observation
        check_layout(checkpoint, self.meta, {"n_in": 2 * r.n * (self.k + 1) + r.n * (self.k - 1), "n_out": r.n})
        self.ref = ReferenceModel.for_robot(r)
        self.fallback = ComputedTorque(model)
        self._fallback_ran = False
        self.obs: deque = deque(maxlen=self.k)     # (stamp, o)
        self.acts: deque = deque(maxlen=self.k - 1)
        self.delay = DelayLine(r.n, r.dt, latency_s, lag_s)
        self.status = "ok"
        self._ctx = None          # (stamp, measured torques?) for applied()
        self.deferred = False     # a guard calls applied() itself with the command it really sent

    def reset(self) -> None:
        self.obs.clear()
        self.acts.clear()
        self.delay.clear()

    def command(self, t, q, qd, d, effort=None) -> np.ndarray:
        self._ctx = None
        o = np.concatenate([q, qd])
        if not np.all(np.isfinite(o)):
            self.reset()
            self.status = "fallback: non-finite state"
            return np.zeros(self.n)
        measured = measured_torques(effort, self.n)
        if self.action == "effort" and not measured:
            self.reset()
            self.status = "fallback: this model needs measured joint torques (JointState.effort)"
            return np.clip(self.fallback.torque(q, qd, d.q, d.qd, d.qdd), -self.limit, self.limit)
        if self.obs and abs(t - self.obs[-1][0] - self.dt) > 0.5 * self.dt:
            self.reset()                                  # a gap: the history no longer fits
        self.obs.append((t, o))
        if self.action == "effort":
            self.strength.update(effort)
            if self.k > 1:
                self.acts.append(np.asarray(effort, float))
        u = None
        if len(self.obs) == self.k and len(self.acts) == self.k - 1:
            obs = np.array([ob for _, ob in self.obs])
            acts = np.array(self.acts).reshape(self.k - 1, self.n)
            if self.delay and self.action == "effort":
                obs, acts, q, qd = self._ahead(t, q, qd, obs, acts, effort)
                d = shift_desired(d, self.delay.lead)
            target = self.ref.rollout(q, qd, d, self.lookahead)[-1]
            x = features(obs, acts, target)
            u = self.net(x)
            self.status = "ok" if np.all(np.isfinite(u)) else "fallback: non-finite network output"
        else:
            self.status = "warming up: computed torque until the history is full"
        if u is None or not np.all(np.isfinite(u)):
            u = self.fallback.torque(q, qd, d.q, d.qd, d.qdd)
            self._fallback_ran = True
        else:
            if self._fallback_ran:
                # the fallback runs in rare stretches: its hold term must not carry a stale
                # integration into the next one
                self.fallback.reset()
                self._fallback_ran = False
            if self.action == "effort":
                u = u / self.strength.value     # the torque wanted at the joint -> the command
        u = np.clip(u, -self.limit, self.limit)
        self._ctx = (t, measured)
        if not self.deferred:
            self.applied(u)
        return u

    def applied(self, cmd) -> None:
        """The command really sent for this step's state (this mode's own, or a guard's)."""
        if self._ctx is None:
            return
        t, measured = self._ctx
        cmd = np.asarray(cmd, float)
        if self.action == "effort":
            self.strength.commanded(cmd)
            self.delay.push(t, cmd * self.strength.value if measured else cmd)
        elif self.k > 1:
            self.acts.append(cmd)
        self._ctx = None

    def _ahead(self, t, q, qd, obs, acts, effort):
        """Delay in the loop: the observation and torque histories as they will be when this
        command acts (the measured state run forward over the delay on the nominal model with the
        torques already on their way), and that state."""
        n, dt, K = self.n, self.dt, self.delay.steps
        m = self.fallback.m
        M, h = m.dynamics(q, qd)
        Minv = np.linalg.inv(M)
        U = self.delay.torques(t, effort)
        drift = -dt * Minv @ (h + m.frictionloss * np.tanh(qd / 0.02))
        B = dt * Minv
        states = np.empty((K, 2 * n))
        qk, qdk = q, qd
        for j in range(K):
            qk, qdk = predict_velocity(qk, qdk, U[j:j + 1], B, drift, dt)
            states[j, :n], states[j, n:] = qk, qdk
        all_obs = np.vstack([obs, states])[-self.k:]
        all_acts = np.vstack([acts, U])[-(self.k - 1):] if self.k > 1 else acts
        return all_obs, all_acts.reshape(self.k - 1, n), qk, qdk
