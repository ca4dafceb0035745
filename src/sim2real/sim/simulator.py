"""The physics core of the MuJoCo driver: step with joint torques, read joint state and sensors.

Knows nothing about ROS or about the twin's transport effects (see twin_effects.py): it is the
robot as the physics sees it. Actuation here is always torque (`step(tau)`); position and
PD-target commands become torques through `sim2real.robots.actuation.pd_torque`, called by the
driver at the control rate as the robot's motor firmware would.

Frames: world is z up; a floating base's pose is its root body (robot.base_link) in world.
Quaternions are (w, x, y, z), MuJoCo's order.
"""
from __future__ import annotations

import mujoco
import numpy as np

from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec
from sim2real.sim.model_builder import (IMU_SENSORS, PAYLOAD_BODY, ROBOT_GROUP, TARGET_BODY, build_model,
                                        joint_indices)
from sim2real.sim.reality import NOMINAL, RealityProfile

FLOOR_CLEARANCE = 0.001   # m between the lowest robot geom and the floor when a floating robot is reset


def _run(idx: np.ndarray):
    """A slice for addresses that run consecutively (a, a+1, ...), else the addresses."""
    idx = np.asarray(idx)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


class Simulator:
    def __init__(self, robot: RobotSpec, reality: RealityProfile = NOMINAL):
        self.robot = robot
        self.model = build_model(robot, reality)
        self.data = mujoco.MjData(self.model)
        self.n = robot.n
        self._substeps = robot.substeps
        self._qadr, self._dadr = joint_indices(self.model, robot.joint_names)
        self._gqadr, _ = joint_indices(self.model, robot.gripper_joints)
        # the same addresses as slices where they run consecutively (a slice's copy costs less)
        self._qsel, self._dsel, self._gqsel = _run(self._qadr), _run(self._dadr), _run(self._gqadr)
        m = self.model
        self._payload = m.body(PAYLOAD_BODY).id if robot.payload_body is not None else None
        tid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, TARGET_BODY)
        self._target_mocap = m.body_mocapid[tid] if tid >= 0 else None
        sched = reality.section("dynamics").get("payload_schedule", [])
        self._schedule = sorted((e["t"], e["mass"]) for e in sched)
        self._ee = m.body(robot.end_effector).id if robot.end_effector else None
        self._base = m.body(robot.base_link).id
        self._free_q = self._free_v = None
        if robot.floating_base:
            j = m.joint("base")
            self._free_q, self._free_v = int(j.qposadr[0]), int(j.dofadr[0])
        self._imu = [self._sensor_slice(s) for s in IMU_SENSORS] if robot.imu else None
        self._feet = [[self._sensor_slice(f"{foot}_touch{k}") for k in range(self._n_touch(foot))]
                      for foot in robot.foot_contacts]
        self._floor_z = float(m.geom("floor").pos[2])
        self._robot_geoms = np.flatnonzero((m.geom_contype & ROBOT_GROUP) != 0)   # not target, payload
        self.reset()

    def _sensor_slice(self, name: str) -> slice:
        s = self.model.sensor(name)
        return slice(int(s.adr[0]), int(s.adr[0] + s.dim[0]))

    def _n_touch(self, foot: str) -> int:
        return sum(1 for i in range(self.model.nsensor) if self.model.sensor(i).name.startswith(f"{foot}_touch"))

    def reset(self, q: np.ndarray | None = None, base_pos=None, base_quat=None) -> None:
        """Joints at q (default robot.home). A floating base is placed at base_pos / base_quat;
        without base_pos it stands on the floor: x = y = 0, its lowest geom just above the floor."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qadr] = self.robot.home if q is None else q
        self.data.qpos[self._gqadr] = self.robot.gripper_hold
        self.data.ctrl[self.n:] = self.robot.gripper_hold
        self._mimic()
        if self._free_q is not None:
            fq = self._free_q
            self.data.qpos[fq + 3: fq + 7] = [1, 0, 0, 0] if base_quat is None else base_quat
            if base_pos is not None:
                self.data.qpos[fq: fq + 3] = base_pos
            else:
                self.data.qpos[fq: fq + 3] = 0.0
                mujoco.mj_kinematics(self.model, self.data)
                self.data.qpos[fq + 2] = self._floor_z - self._lowest_point() + FLOOR_CLEARANCE
        self._next_event = 0
        mujoco.mj_forward(self.model, self.data)

    def _mimic(self) -> None:
        """Mimic joints start where their equality constraint wants them."""
        for jn, (leader, mult, off) in self.robot.mimic.items():
            a, b = self.model.joint(jn).qposadr[0], self.model.joint(leader).qposadr[0]
            self.data.qpos[a] = off + mult * self.data.qpos[b]

    def _lowest_point(self) -> float:
        """z of the lowest point of the robot's geoms, after kinematics (exact for spheres,
        capsules, cylinders and boxes; the oriented bounding box otherwise)."""
        m, d = self.model, self.data
        T = mujoco.mjtGeom
        low = np.inf
        for g in self._robot_geoms:
            z, Rz = d.geom_xpos[g, 2], d.geom_xmat[g].reshape(3, 3)[2]   # Rz: world z in geom axes
            size, t = m.geom_size[g], m.geom_type[g]
            if t == T.mjGEOM_SPHERE:
                reach = size[0]
            elif t == T.mjGEOM_CAPSULE:
                reach = size[0] + abs(Rz[2]) * size[1]
            elif t == T.mjGEOM_CYLINDER:
                reach = abs(Rz[2]) * size[1] + size[0] * np.sqrt(max(0.0, 1.0 - Rz[2] ** 2))
            elif t == T.mjGEOM_BOX:
                reach = float(np.abs(Rz) @ size)
            else:
                a = m.geom_aabb[g]
                z, reach = z + Rz @ a[:3], float(np.abs(Rz) @ a[3:])
            low = min(low, z - reach)
        return float(low)

    @property
    def time(self) -> float:
        return float(self.data.time)

    def step(self, tau: np.ndarray) -> None:
        """Advance one control period with joint torques tau (n,) N m (clipped to the motor range)."""
        self.data.ctrl[: self.n] = tau
        while self._next_event < len(self._schedule) and self._schedule[self._next_event][0] <= self.data.time:
            self.set_payload_mass(self._schedule[self._next_event][1])
            self._next_event += 1
        mujoco.mj_step(self.model, self.data, self._substeps)

    def set_payload_mass(self, mass: float) -> None:
        """Change the payload on robot.payload_body (kg); 0 removes it."""
        if self._payload is None:
            raise ConfigError(f"robot '{self.robot.name}' has no payload_body")
        m = max(mass, 1e-6)
        self.model.body_mass[self._payload] = m
        self.model.body_inertia[self._payload] = m * 4e-4
        # mj_setConst works in the MjData it is given (it leaves qpos at qpos0): give it a scratch one
        mujoco.mj_setConst(self.model, mujoco.MjData(self.model))
        mujoco.mj_forward(self.model, self.data)

    @property
    def payload_mass(self) -> float:
        if self._payload is None:
            return 0.0
        m = float(self.model.body_mass[self._payload])
        return 0.0 if m <= 1e-6 else m

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q rad, qd rad/s, effort N m) of the commanded joints, true values; effort is the motor
        torque on each joint (0 on a mimic joint, whose leader's motor drives it)."""
        d = self.data
        return d.qpos[self._qsel].copy(), d.qvel[self._dsel].copy(), d.qfrc_actuator[self._dsel].copy()

    def joint_position_velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """(q, qd) of joint_state(), without the effort."""
        d = self.data
        return d.qpos[self._qsel].copy(), d.qvel[self._dsel].copy()

    def gripper_position(self) -> np.ndarray:
        """(k,) rad: the gripper joints' positions, true values."""
        return self.data.qpos[self._gqsel].copy()

    # ---- the reach task's target (a mocap body, present where the scene has one) ----------
    def set_target(self, pos) -> None:
        if self._target_mocap is None:
            raise ConfigError(f"robot '{self.robot.name}': the scene has no target (no reach task)")
        self.data.mocap_pos[self._target_mocap] = pos

    def target(self) -> np.ndarray | None:
        """(3,) m world, or None when the scene has no target."""
        return None if self._target_mocap is None else self.data.mocap_pos[self._target_mocap].copy()

    def ee_position(self) -> np.ndarray:
        if self._ee is None:
            raise ConfigError(f"robot '{self.robot.name}' has no end_effector")
        return self.data.xpos[self._ee].copy()

    # ---- floating base, IMU, feet ----------------------------------------------------------
    def base_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,) m, orientation quaternion wxyz (4,)) of robot.base_link in world."""
        return self.data.xpos[self._base].copy(), self.data.xquat[self._base].copy()

    def base_velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """(linear (3,) m/s in world, angular (3,) rad/s in the base frame) of robot.base_link;
        zeros for a fixed base. These are the free joint's velocities (MuJoCo's convention)."""
        if self._free_v is None:
            return np.zeros(3), np.zeros(3)
        v = self.data.qvel[self._free_v: self._free_v + 6]
        return v[:3].copy(), v[3:].copy()

    def imu(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(orientation quaternion wxyz (4,) in world, angular velocity (3,) rad/s, linear
        acceleration (3,) m/s^2 incl. gravity reaction (+9.81 up at rest)); the latter two in the IMU
        frame, as sensor_msgs/Imu carries them. True values."""
        if self._imu is None:
            raise ConfigError(f"robot '{self.robot.name}' has no IMU (sensors.imu)")
        s = self.data.sensordata
        return tuple(s[sl].copy() for sl in self._imu)

    def foot_forces(self) -> np.ndarray:
        """(k,) N: normal contact force on each of robot.foot_contacts (touch sensors)."""
        s = self.data.sensordata
        return np.array([sum(float(s[sl][0]) for sl in foot) for foot in self._feet])

    def foot_contacts(self, threshold_n: float = 1.0) -> np.ndarray:
        """(k,) bool: which feet carry more than threshold_n N."""
        return self.foot_forces() > threshold_n
