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

The network corrects the baseline as far as it earns it on the robot (TrustCheck): the command
is the baseline's (computed torque on the nominal model, its feedback and hold term intact) plus,
per joint, w (f_net - f_nom), the network's answer minus the nominal model's to the same question
(the mean torque that reaches the target in L steps). Every state, once the state L steps later
and the torques applied in between have arrived, both models say what torque should have moved
the arm so, and w is the minimum-variance weight of the two estimates given their errors there.
A model retrained from a fresh recording varies in quality from run to run (measured on
heldout-light-quick, three recordings: 1.17x, 1.76x and 2.40x the baseline's RMS on the reach
trajectory as the bare network, 0.59-0.62x corrected this way); one worse than the nominal model
fades to the baseline instead of tracking worse.
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


class TrustCheck:
    """Per joint, how well the network and the nominal model each predict the torque the robot
    applied, on the robot's own closed-loop data, and the share of the network in the command.

    For each state s, once o_(s+L) and the measured torques of states s+1..s+L have arrived (their
    mean moved o_s to o_(s+L), as in training), the network's answer f(o_s.., a_s.., o_(s+L)) and
    the nominal model's M(q_s) (qd_(s+L) - qd_s) / (L dt) + h(q_s, qd_s) + f_c tanh(qd_s / v_eps)
    are compared with that mean. With e_net, e_nom their errors (averaged exponentially, TAU_S),
    the network's weight per joint is the minimum-variance combination of two correlated
    estimates (Bates & Granger 1969),

        w = E[e_nom (e_nom - e_net)] / E[(e_net - e_nom)^2]   clipped to [0, 1]

    The measured torques and velocities are noisy, and that noise is in both errors alike: the
    product term removes it (a plain inverse-variance share, e_nom^2 / (e_net^2 + e_nom^2), tends
    to 1/2 wherever the noise dominates both). Until the first check, w = 0.5."""
    TAU_S = 0.5
    V_EPS = 0.02

    def __init__(self, n: int, dt: float, lookahead: int):
        self.n, self.dt, self.L = n, dt, lookahead
        self.a = dt / self.TAU_S
        self.e_net = np.zeros(n)         # mean square errors, N^2 m^2
        self.e_nom = np.zeros(n)
        self.e_x = np.zeros(n)           # mean product of the two errors (their shared noise)
        self.count = 0
        self.pending: deque = deque(maxlen=lookahead)   # (obs window, action window, q, qd, M, bias)
        self.efforts: deque = deque(maxlen=lookahead)

    @property
    def weight(self) -> np.ndarray:
        """(n,) share of the network's command per joint, in [0, 1]."""
        if not self.count:
            return np.full(self.n, 0.5)
        den = self.e_net + self.e_nom - 2.0 * self.e_x        # E[(u_net - u_nom)^2]
        w = (self.e_nom - self.e_x) / np.maximum(den, 1e-12)
        return np.clip(np.where(den > 1e-12, w, 0.5), 0.0, 1.0)

    def clear(self) -> None:
        """A gap in the states: the pairs in flight no longer fit (the averages stay)."""
        self.pending.clear()
        self.efforts.clear()

    def add(self, net, model, obs, acts, q, qd, effort) -> None:
        """This state's histories and measured torques (consecutive states only)."""
        self.efforts.append(np.asarray(effort, float))
        if len(self.pending) == self.L and len(self.efforts) == self.L:
            obs_s, acts_s, q_s, qd_s, M_s, bias_s = self.pending[0]      # s = this state - L
            y = np.mean(self.efforts, axis=0)                            # applied over s+1..s+L
            u_net = net(features(obs_s, acts_s, np.concatenate([q, qd])))
            u_nom = M_s @ ((qd - qd_s) / (self.L * self.dt)) + bias_s
            if np.all(np.isfinite(u_net)) and np.all(np.isfinite(u_nom)):
                a = self.a if self.count else 1.0
                self.e_net += a * ((u_net - y) ** 2 - self.e_net)
                self.e_nom += a * ((u_nom - y) ** 2 - self.e_nom)
                self.e_x += a * ((u_net - y) * (u_nom - y) - self.e_x)
                self.count += 1
        M, h = model.dynamics(q, qd)
        self.pending.append((obs, acts, np.array(q, float), np.array(qd, float), M,
                             h + model.frictionloss * np.tanh(qd / self.V_EPS)))

    def nominal(self, model, q, qd, qd_target) -> np.ndarray:
        """(n,) N m: the nominal model's mean torque that takes qd to qd_target in L steps."""
        M, h = model.dynamics(q, qd)
        return M @ ((qd_target - qd) / (self.L * self.dt)) + h + model.frictionloss * np.tanh(qd / self.V_EPS)


class InverseDynamicsMode:
    name = "inverse_dynamics"

    def __init__(self, model, checkpoint, latency_s: float = 0.0, lag_s: float = 0.0, trust: bool = True):
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
        self.trust = TrustCheck(r.n, r.dt, self.lookahead) if self.action == "effort" and trust else None
        self.status = "ok"
        self._ctx = None          # (stamp, measured torques?) for applied()
        self.deferred = False     # a guard calls applied() itself with the command it really sent

    def reset(self) -> None:
        self.obs.clear()
        self.acts.clear()
        self.delay.clear()
        if self.trust is not None:
            self.trust.clear()

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
        q_m, qd_m, d_m = q, qd, d
        if len(self.obs) == self.k and len(self.acts) == self.k - 1:
            obs = np.array([ob for _, ob in self.obs])
            acts = np.array(self.acts).reshape(self.k - 1, self.n)
            if self.trust is not None:
                self.trust.add(self.net, self.fallback.m, obs, acts, q, qd, effort)
            if self.delay and self.action == "effort":
                obs, acts, q, qd = self._ahead(t, q, qd, obs, acts, effort)
                d = shift_desired(d, self.delay.lead)
            target = self.ref.rollout(q, qd, d, self.lookahead)[-1]
            x = features(obs, acts, target)
            u = self.net(x)
            if self.trust is not None:     # the nominal model's answer to the same question
                u_nom = self.trust.nominal(self.fallback.m, q, qd, target[self.n:])
            self.status = "ok" if np.all(np.isfinite(u)) else "fallback: non-finite network output"
        else:
            self.status = "warming up: computed torque until the history is full"
        if u is None or not np.all(np.isfinite(u)):
            u = self.fallback.torque(q_m, qd_m, d_m.q, d_m.qd, d_m.qdd)
            self._fallback_ran = True
        elif self.trust is not None:
            # the baseline's command for this state, as the baseline computes it (it runs every
            # step, so its hold term is its own), plus the network's correction to the nominal
            # model's torque for the same target, per joint as far as the network is trusted.
            # (Blending the two commands instead, w u_net + (1 - w) u_ct, scaled the baseline's
            # feedback and hold term down by 1 - w: a payload neither model knows sagged
            # further than under either alone)
            u_ct = self.fallback.torque(q_m, qd_m, d_m.q, d_m.qd, d_m.qdd)
            u = u_ct + self.trust.weight * (u / self.strength.value - u_nom)
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
