"""How a command becomes a motor torque, per actuation (RobotSpec.actuation).

effort: the command is the torque. position and pd_targets: the command is a joint position
target that a joint PD turns into torque, as the Go1's motor firmware (kp, kd sent with each
target) and the NAO's motor boards (under the DCM) do:

    tau = clip(kp (q_target - q) - kd qd, -effort_limit, effort_limit)

with the robot's per-joint gains (RobotSpec.pd_kp N m/rad, pd_kd N m s/rad). A mimic joint
(RobotSpec.mimic, e.g. the NAO's RHipYawPitch) has no motor of its own; its torque is ignored.
"""
from __future__ import annotations

import numpy as np

try:    # np.clip's ufunc: the same values without its Python wrappers (a lockstep step calls this)
    from numpy._core.umath import clip as _clip
except ImportError:  # numpy < 2
    _clip = np.clip


def pd_torque(robot, q_target: np.ndarray, q: np.ndarray, qd: np.ndarray,
              qd_target: np.ndarray | float = 0.0) -> np.ndarray:
    """(n,) N m: joint PD torque toward q_target (n,) rad from q (n,) rad, qd (n,) rad/s."""
    tau = robot.pd_kp * (np.asarray(q_target) - q) + robot.pd_kd * (qd_target - np.asarray(qd))
    return _clip(tau, -robot.effort_limit, robot.effort_limit)
