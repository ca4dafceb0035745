"""What stands between a controller and a real robot's motors, for the twin: transport latency
and drops each way, actuator lag, motor strength, backlash, sensor noise and bias, control jitter,
and a mis-configured vendor driver (joint order, signs, offsets, command scale).

The nominal profile makes every effect the identity, so the plain `mujoco` backend runs the same
code path with nothing in between. Where an effect is the identity its arithmetic is skipped
(a permutation by arange, a product by 1, noise of std 0): the values are the same, except that
an identity's zero noise still turns a -0.0 into 0.0 as adding it did.

Wire vs model order: the driver reports and accepts joints in `joint_order` (a permutation of
the robot's joints); wire slot k carries model joint perm[k].
"""
from __future__ import annotations

from collections import deque

import numpy as np

from sim2real.sim.reality import ResolvedReality


class TwinEffects:
    def __init__(self, r: ResolvedReality, dt: float, n: int):
        self.r, self.dt, self.n = r, dt, n
        self.rng = np.random.default_rng(r.profile.seed)
        self.perm = np.array(r.joint_order)
        self._cmd_q: deque = deque()     # (deliver_at, model-order command)
        self._state_q: deque = deque()   # (deliver_at, stamp, wire q, qd, effort)
        self._applied = np.zeros(n)      # the command the motors currently act on
        self._torque = np.zeros(n)       # actuator output after lag
        lag = r.actuator_lag
        self._alpha = np.where(lag > 0, 1.0 - np.exp(-dt / np.maximum(lag, 1e-12)), 1.0)
        self._motor_pos: np.ndarray | None = None   # backlash: encoder side of the gear
        self.delivered = False           # has any command reached the motors yet
        self.delivered_at = -np.inf      # sim time the newest command reached the motors, s
        self._cmd_gain = r.command_scale * r.sign        # wire command -> model command, per joint
        self._alpha_one = bool(np.all(self._alpha == 1.0))          # no actuator lag
        self._strength_one = bool(np.all(r.motor_strength == 1.0))
        self.identity = (
            not np.any(lag) and r.latency_command == 0 and r.latency_state == 0 and r.drop_command == 0
            and r.drop_state == 0 and r.control_jitter == 0 and np.all(r.motor_strength == 1)
            and np.all(r.sign == 1) and not np.any(r.offset) and np.all(r.command_scale == 1)
            and not np.any(r.backlash) and not np.any(r.position_noise) and not np.any(r.velocity_noise)
            and not np.any(r.effort_noise) and not np.any(r.position_bias)
            and np.array_equal(self.perm, np.arange(n)))

    # ---- command path: wire command -> torque at the joints -----------------------------------
    def command_received(self, t: float, wire_cmd: np.ndarray) -> bool:
        """Queue a command arriving at sim time t; False when the transport drops it."""
        if self.identity:       # nothing in between: the command as it came, now
            self._cmd_q.append((t, np.array(wire_cmd, dtype=float)))
            return True
        if self.r.drop_command and self.rng.random() < self.r.drop_command:
            return False
        model = np.empty(self.n)
        model[self.perm] = wire_cmd                      # wire slot k is model joint perm[k]
        model *= self._cmd_gain                          # units mismatch, then the joint's true sense
        delay = self.r.latency_command
        if self.r.control_jitter:
            delay += abs(self.rng.normal(0.0, self.r.control_jitter))
        self._cmd_q.append((t + delay, model))
        return True

    def deliver(self, t: float) -> bool:
        """Hand the motors every command whose transport delay has passed by t; True if any did."""
        fresh = False
        while self._cmd_q and self._cmd_q[0][0] <= t + 1e-9:
            self._applied = self._cmd_q.popleft()[1]
            self.delivered, self.delivered_at, fresh = True, t, True
        return fresh

    @property
    def applied(self) -> np.ndarray:
        """The command the motors act on now (N m, model order)."""
        return self._applied

    def motor_torque(self, t: float, override: np.ndarray | None = None) -> np.ndarray:
        """Torque the motors produce during the step starting at t (N m, model order). override:
        what the motor controller asks instead of the delivered command (its own hold)."""
        self.deliver(t)
        target = self._applied if override is None else override
        if self._alpha_one:     # no lag: alpha 1 (the same sum, without the product by 1)
            self._torque += target - self._torque
        else:
            self._torque += self._alpha * (target - self._torque)
        return self._torque.copy() if self._strength_one else self._torque * self.r.motor_strength

    # ---- state path: true state -> what the wire carries --------------------------------------
    def state_measured(self, t: float, q: np.ndarray, qd: np.ndarray, effort: np.ndarray) -> None:
        if self.identity:       # due now, as measured (+ 0.0: the zero noise's one effect, -0.0 -> 0.0)
            self._state_q.append((t, t, q + 0.0, qd + 0.0, effort + 0.0))
            return
        r = self.r
        if np.any(r.backlash):
            if self._motor_pos is None:
                self._motor_pos = q.copy()
            half = r.backlash / 2
            self._motor_pos = np.clip(self._motor_pos, q - half, q + half)
            q = self._motor_pos.copy()
        q = q + r.position_bias + r.position_noise * self.rng.standard_normal(self.n)
        qd = qd + r.velocity_noise * self.rng.standard_normal(self.n)
        effort = effort + r.effort_noise * self.rng.standard_normal(self.n)
        q, qd, effort = r.sign * q + r.offset, r.sign * qd, r.sign * effort
        if r.drop_state and self.rng.random() < r.drop_state:
            return
        self._state_q.append((t + r.latency_state, t, q[self.perm], qd[self.perm], effort[self.perm]))

    def states_due(self, t: float) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
        """States whose transport delay has passed by time t: (measured at, q, qd, effort), wire order."""
        out = []
        while self._state_q and self._state_q[0][0] <= t + 1e-9:
            out.append(self._state_q.popleft()[1:])
        return out
