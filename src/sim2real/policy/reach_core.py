"""What a reach policy sees and does, written once for the training environment, the lockstep
evaluation and the ROS node (so the three cannot drift apart).

Observation (float32, fixed scales so no running normalizer has to travel with a checkpoint):

    slot            size  scale                 what
    q               n     1 (rad)               measured joint positions
    qd              n     1 / vmax              measured joint velocities
    target          3     1 / 0.3 m (from the workspace centre)   target position, base_link
    to_target       3     1 / 0.3 m             target - end effector (nominal FK of measured q)
    lead            n     1 / LEAD_MAX          previous desired q - measured q
    prev_action     n     1                     the previous action
    extrinsics      k     FEATURES / 1          known features first, then RMA's latent:
      loop_delay    1     1 / 0.05 s            the loop's delay as the safety filter measures it
                                                (safety/filter.LoopDelay; the node reads it off
                                                the filter's /diagnostics, `loop_delay_ms`)
      latent        k-f   1                     RMA's estimate (zeros / absent until it exists)

The end effector comes from the nominal model's forward kinematics of the *measured* joints, a
function of q the node computes too: no privileged information. Neither is the loop's delay:
the safety filter measures it as it runs, and the training environment sets each simulation's
value the same way (policy/env.py). A checkpoint records its features (`extrinsic_features`)
and the slot's size (`extrinsics`); one without the key has none (its slot, if any, is latent).
Why the delay: the shipped policies, trained on 0-14 ms round trip, damp the arm by reacting
to its measured velocity; 40 ms old, at the 6 Hz the baseline's loop rings at under that
delay, that reaction pumps the ringing (20+20 ms: 0% success, 4-6 cm limit cycles, where the
planner's open-loop trajectories reach 100%; the same policy with its velocity input zeroed and
its action smoothed reached 100%). A policy that sees the delay can damp when the loop is fast
and hold back when it is slow.

Action a in [-1, 1]^n: a desired joint speed v = a * SPEED * vmax. The desired state moves
from the previous desired position q_d to q_d' = q_d + v T (T the policy period) over the next
period, q_d' kept within LEAD_MAX of the measured q and inside the joint limits less the safety
margin: the policy publishes (q_d, (q_d' - q_d) / T) stamped now, which the controller
extrapolates with its velocity as it does any desired state. Desired states that respect the
velocity limits by construction. SPEED is 0.6 (the planner peaks at 0.8 on its smooth
trajectories): at 0.8, the policy's faster changes of speed made a loop with 14 ms of latency and
20 ms of actuator lag overshoot into the safety filter's velocity governor (from 0.9 vmax) and
ring there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.control.reference import REF_SPEED

# known extrinsic features: name -> scale (the observed value is the physical one / scale)
FEATURES = {"loop_delay": 0.05}      # s
SPEED = 0.6        # fraction of each joint's velocity limit at |a| = 1 (a checkpoint records its own)
LEAD_MAX = 0.2     # rad the desired position may lead the measured one
POS_SCALE = 0.3    # m


@dataclass(frozen=True)
class ReachLayout:
    n: int
    extrinsics: int = 0                 # the whole slot: len(features) known values, then latent
    features: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown extrinsic feature(s) {unknown}; known: {', '.join(FEATURES)}")
        if self.extrinsics < len(self.features):
            raise ValueError(f"extrinsics {self.extrinsics} < {len(self.features)} features")

    @property
    def latent(self) -> int:
        return self.extrinsics - len(self.features)

    @property
    def size(self) -> int:
        return 4 * self.n + 6 + self.extrinsics

    def slots(self) -> dict[str, slice]:
        n, out, i = self.n, {}, 0
        for name, k in (("q", n), ("qd", n), ("target", 3), ("to_target", 3), ("lead", n),
                        ("prev_action", n), ("extrinsics", self.extrinsics)):
            out[name] = slice(i, i + k)
            i += k
        return out


class ReachCore:
    """Observation and action maps for one robot (batched over leading dimensions)."""

    def __init__(self, robot, task, extrinsics: int = 0, speed: float = SPEED, features: tuple[str, ...] = (),
                 speed_lag: float = 0.0):
        """extrinsics: the latent's size; features: the known extrinsic features before it;
        speed_lag: the desired speed's low-pass time constant per second of loop delay
        (command_speed; 0: none, as checkpoints before it)."""
        self.robot = robot
        self.speed = speed
        self.speed_lag = float(speed_lag)
        self.layout = ReachLayout(robot.n, len(features) + extrinsics, tuple(features))
        self.vmax = robot.velocity_limit * robot.safety.velocity_scale
        self.period = 1.0 / robot.policy_rate_hz
        m = robot.safety.position_margin
        self.lo = np.where(np.isfinite(robot.position_lower), robot.position_lower + m, -np.inf)
        self.hi = np.where(np.isfinite(robot.position_upper), robot.position_upper - m, np.inf)
        self.centre = 0.5 * (task.low + task.high)
        # the most acceleration the graph's reference asks of a joint at rest (load_utilization)
        self.amax = robot.kd * REF_SPEED * robot.velocity_limit * robot.safety.velocity_scale

    def observe(self, q, qd, target, ee, q_d, prev_action, extrinsics=None, features=None) -> np.ndarray:
        """features: {name: value (...,) in physical units} for each of the layout's features
        (KeyError if one is missing); extrinsics: the latent (..., latent), zeros if None."""
        parts = [q, qd / self.vmax, (target - self.centre) / POS_SCALE, (target - ee) / POS_SCALE,
                 (q_d - q) / LEAD_MAX, prev_action]
        batch = np.shape(q)[:-1]
        for name in self.layout.features:
            if features is None or name not in features:
                raise KeyError(f"the layout observes '{name}' and it was not given")
            parts.append(np.broadcast_to(np.asarray(features[name], float) / FEATURES[name], batch)[..., None])
        if self.layout.latent:
            if extrinsics is None:
                extrinsics = np.zeros(batch + (self.layout.latent,))
            parts.append(extrinsics)
        return np.concatenate(parts, axis=-1).astype(np.float32)

    def command_speed(self, action, v_prev, loop_delay) -> np.ndarray:
        """The desired joint speed (rad/s) for an action: a SPEED vmax, low-passed with a time
        constant of speed_lag x the loop's delay (s, per row: the figure the policy observes):
        v = v_prev + beta (a SPEED vmax - v_prev), beta = 1 - exp(-T / tau). A slow loop then
        gets smoother desired states (the baseline's loop rings at ~6 Hz under 40 ms of delay,
        and a speed that jumps each period, or the exploration noise of training, excites it);
        a fast one (tau << T) the action itself. Non-finite actions count as zero."""
        a = np.clip(np.nan_to_num(np.asarray(action, float), nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
        v = a * self.speed * self.vmax
        if self.speed_lag <= 0.0:
            return v
        tau = self.speed_lag * np.asarray(loop_delay, float)
        beta = 1.0 - np.exp(-self.period / np.maximum(tau, 1e-9))
        if np.ndim(beta):
            beta = beta[..., None]
        return v_prev + beta * (v - v_prev)

    def desired(self, action, q, q_d, v=None) -> tuple[np.ndarray, np.ndarray]:
        """The desired state to publish now, (q_d rad, qd_d rad/s): it starts at the previous
        desired position and moves with qd_d for one policy period (the controller extrapolates
        a desired state with its velocity), reaching q_d + v T kept within LEAD_MAX of the
        measured q and inside the joint limits less the safety margin. The next call's q_d is
        q_d + qd_d T. v: the desired speed (command_speed), by default the action's own
        (a SPEED vmax). Non-finite actions count as zero."""
        if v is None:
            a = np.clip(np.nan_to_num(np.asarray(action, float), nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
            v = a * self.speed * self.vmax
        v = np.nan_to_num(np.asarray(v, float), nan=0.0, posinf=0.0, neginf=0.0)
        q_next = np.clip(q_d + v * self.period, q - LEAD_MAX, q + LEAD_MAX)
        q_next = np.clip(q_next, self.lo, self.hi)
        return q_d, (q_next - q_d) / self.period


POSTURE_WEIGHT = 0.1    # per rad^2 (mean over joints) away from the robot's home posture
LOAD_KG = 1.0           # the reference payload whose holding the load term prices ...
LOAD_OFFSET = 0.04      # m ... along the end effector's z axis
LOAD_WEIGHT = 0.15      # per unit utilization^2 (mean over joints): the shipped dr policy held ~0.3 on average
FINE_WEIGHT = 0.5       # the precision term: FINE_WEIGHT exp(-d / FINE_SCALE) per step. The linear term's
FINE_SCALE = 0.01       # m  pull (2 per m) is worth 0.01 per step for the last 5 mm, under the exploration
                        # noise of the return; policies trained on it alone stopped ~0.9 cm from the target


def load_utilization(M, jac_z, amax, g: float = 9.81) -> np.ndarray:
    """How much of each joint's corrective authority holding LOAD_KG at the hand takes, (..., n).

    The graph's controller (computed torque on the nominal model, control/reference.py) leaves
    an unmodelled load to its feedback, and its reference saturates the velocity it steers to at
    v_ref, so a joint at rest gets at most M a with |a_j| <= amax_j = Kd v_ref_j beyond the
    nominal model, however far the desired state leads: on the Jaco's wrist (M ~0.03 kg m^2)
    that is ~0.7 N m of its 6.8. A payload needing more sags, whatever the policy publishes.
    The weight's joint torque is g LOAD_KG jac_z (jac_z: the vertical row of the Jacobian at the
    payload's point); the acceleration that holds it, M^-1 of that, over amax is the utilization
    (> 1: it sags). Postures reaching the same point differ in it several-fold (the arm's null
    space), and only the posture decides it, so the reward can price it on every robot."""
    a = np.linalg.solve(np.asarray(M), (g * LOAD_KG * np.asarray(jac_z))[..., None])[..., 0]
    return a / amax


def reward(dist, action, prev_action, tol, q=None, home=None, load=None) -> np.ndarray:
    """Per policy step: closer is better, a bonus inside the success tolerance, a small penalty
    on how abruptly the action changes (jerky desired states excite the arm), a gentle pull
    toward the home posture (a 7-joint arm reaching points has a null space it would otherwise
    drift through, target after target, into postures it never trained in) and, given `load`
    (load_utilization), a price on postures whose holding of a payload takes the controller's
    authority (the null space again: a payload the hand holds above a joint's reach sags).
    A sharp term near the target (FINE_WEIGHT exp(-d / FINE_SCALE)) pays for the last
    millimetres, which the linear term barely prices."""
    jerk = np.mean((np.asarray(action) - np.asarray(prev_action)) ** 2, axis=-1)
    dist = np.asarray(dist)
    r = -2.0 * dist + 0.5 * (dist < tol) + FINE_WEIGHT * np.exp(-dist / FINE_SCALE) - 0.02 * jerk
    if q is not None:
        r = r - POSTURE_WEIGHT * np.mean((np.asarray(q) - home) ** 2, axis=-1)
    if load is not None:
        r = r - LOAD_WEIGHT * np.mean(np.asarray(load) ** 2, axis=-1)
    return r
