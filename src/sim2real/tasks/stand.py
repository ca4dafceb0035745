"""The stand task and its classical baseline, for floating-base (legged) robots.

Task (config/tasks/stand.yaml, overridden per robot): hold the robot's standing pose
(`robot.home`) with base_link at its nominal height; the robot has fallen when the base drops
below a fraction of that height or tilts too far.

Baseline: the robot's own joint PD (robots.actuation.pd_torque) toward the pose, each target
offset by tau_stance / stiffness, where tau_stance (n,) N m are the joint torques that hold the
robot's weight on its feet in that pose (statics on the nominal model, below). Without the offset
a PD of stiffness k sags by tau_stance / k under load (the Go1's knees by ~0.14 rad at 30 N m/rad).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import ConfigError


@dataclass(frozen=True)
class StandStatus:
    height_m: float           # base_link above the floor, m
    height_error_m: float     # height_m - nominal, m
    tilt_rad: float           # angle of base_link's z axis from vertical, rad
    fallen: bool
    standing: bool            # not fallen and within the height tolerance


def base_tilt(quat_wxyz) -> float:
    """rad between the body z axis of a frame with orientation quat (w, x, y, z) and world z."""
    w, x, y, z = quat_wxyz
    zz = 1.0 - 2.0 * (x * x + y * y)     # R[2, 2]
    return float(math.acos(max(-1.0, min(1.0, zz))))


@dataclass(frozen=True)
class StandTask:
    pose: np.ndarray          # (n,) rad, the standing pose, robot joint order
    base_height: float        # m, nominal height of base_link above the floor
    height_tol_m: float
    fall_height_m: float      # m, below this the robot has fallen
    max_tilt_rad: float
    duration_s: float
    ramp_s: float
    floor_z: float = 0.0      # m, world z of the floor

    @classmethod
    def from_robot(cls, robot, sim=None) -> "StandTask":
        """Settings from the robot's `stand` task; the nominal height (when the config gives none)
        is base_link's height with the pose's lowest geom on the floor (a Simulator reset)."""
        if not robot.floating_base:
            raise ConfigError(f"{robot.config_path}.tasks: the stand task needs a floating base")
        t = robot.task_config("stand")
        if sim is None:
            from sim2real.sim.simulator import Simulator
            sim = Simulator(robot)
        sim.reset(robot.home)
        floor_z = float(sim.model.geom("floor").pos[2])
        h = t.get("base_height")
        h = float(sim.base_pose()[0][2] - floor_z) if h is None else float(h)
        fall = t.get("fall", {})
        return cls(pose=robot.home.copy(), base_height=h, height_tol_m=float(t.get("height_tol_m", 0.03)),
                   fall_height_m=float(fall.get("height_fraction", 0.6)) * h,
                   max_tilt_rad=math.radians(float(fall.get("tilt_deg", 45.0))),
                   duration_s=float(t.get("duration_s", 60.0)), ramp_s=float(t.get("ramp_s", 0.5)),
                   floor_z=floor_z)

    def status(self, base_pos, base_quat) -> StandStatus:
        h = float(base_pos[2]) - self.floor_z
        tilt = base_tilt(base_quat)
        fallen = h < self.fall_height_m or tilt > self.max_tilt_rad
        err = h - self.base_height
        return StandStatus(h, err, tilt, fallen, not fallen and abs(err) <= self.height_tol_m)


def stance_torques(robot, sim) -> np.ndarray:
    """(n,) N m that hold the robot still in its current posture on its feet (sim: a Simulator,
    reset in the posture with its feet on the floor).

    Statics of the floating base: bias(q) = S^T tau + sum_f J_f^T w_f. The base rows fix the
    contact wrenches w (least-norm: spread over the feet); the joint rows then give tau. A foot
    whose geoms are all spheres (point feet) takes a force only; a flat foot a force and a moment.
    A mimic joint's torque is carried by its leader's motor (the equality constraint passes it).
    """
    m, d = sim.model, sim.data
    d.qvel[:] = 0.0
    mujoco.mj_forward(m, d)
    bias = d.qfrc_bias.copy()                      # gravity at rest, (nv,)
    free = m.joint("base").dofadr[0]
    base_rows = np.arange(free, free + 6)
    cols = []
    for foot in robot.foot_contacts:
        b = m.body(foot).id
        geoms = np.flatnonzero(m.geom_bodyid == b)
        point = all(m.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE for g in geoms)
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        # the lowest geom centre of the foot: where the floor pushes
        g = geoms[np.argmin(d.geom_xpos[geoms, 2])]
        mujoco.mj_jac(m, d, jacp, jacr, d.geom_xpos[g], b)
        cols.append(jacp.T)
        if not point:
            cols.append(jacr.T)
    if not cols:
        raise ConfigError(f"{robot.config_path}.sensors.foot_contacts: the stance needs feet")
    JT = np.hstack(cols)                           # (nv, n_wrench)
    w, *_ = np.linalg.lstsq(JT[base_rows], bias[base_rows], rcond=None)
    tau_all = bias - JT @ w                        # generalized force the motors must supply
    tau = tau_all[sim._dadr].copy()
    names = robot.joint_names
    for jn, (leader, mult, _) in robot.mimic.items():
        i, k = names.index(jn), names.index(leader)
        tau[k] += mult * tau[i]
        tau[i] = 0.0
    return tau


class StandBaseline:
    """Classical stand controller: position targets for the robot's joint PD.

    targets(t) = posture(t) + tau_stance / stiffness, where posture(t) blends from the joints
    measured at reset to the pose over ramp_s seconds, then holds it. The load offset applies from
    the first step, so a robot started in the pose does not sag first. Robots without joint
    stiffness (effort actuation) get no offset.
    """

    def __init__(self, robot, task: StandTask | None = None, sim=None):
        if sim is None:
            from sim2real.sim.simulator import Simulator
            sim = Simulator(robot)
        self.task = task or StandTask.from_robot(robot, sim)
        sim.reset(self.task.pose)
        self.tau_stance = stance_torques(robot, sim)          # (n,) N m
        k = robot.pd_kp
        self.offset = np.divide(self.tau_stance, k, out=np.zeros(robot.n), where=k > 0)   # (n,) rad
        self._lo, self._hi = robot.position_lower, robot.position_upper
        self.q_target = np.clip(self.task.pose + self.offset, self._lo, self._hi)   # (n,) rad, after the ramp
        self._q0 = self.task.pose.copy()
        self._t0 = 0.0

    def reset(self, q0: np.ndarray, t0: float = 0.0) -> None:
        """Start a ramp from the measured joints q0 (n,) rad at time t0 s."""
        self._q0, self._t0 = np.asarray(q0, float).copy(), t0

    def targets(self, t: float) -> np.ndarray:
        """(n,) rad joint position targets at time t s."""
        a = 1.0 if self.task.ramp_s <= 0 else min(1.0, max(0.0, (t - self._t0) / self.task.ramp_s))
        if a >= 1.0:
            return self.q_target
        return np.clip(self._q0 + a * (self.task.pose - self._q0) + self.offset, self._lo, self._hi)
