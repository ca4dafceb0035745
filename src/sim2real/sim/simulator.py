"""The physics core of the MuJoCo driver: step with joint torques, read joint state, move the target.

Knows nothing about ROS or about the twin's transport effects (see twin_effects.py): it is the
robot as the physics sees it.
"""
from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots.spec import RobotSpec
from sim2real.sim.model_builder import PAYLOAD_BODY, TARGET_BODY, build_model, joint_indices
from sim2real.sim.reality import NOMINAL, RealityProfile


class Simulator:
    def __init__(self, robot: RobotSpec, reality: RealityProfile = NOMINAL):
        self.robot = robot
        self.model = build_model(robot, reality)
        self.data = mujoco.MjData(self.model)
        self.n = robot.n
        self._qadr, self._dadr = joint_indices(self.model, robot.joint_names)
        self._gqadr, _ = joint_indices(self.model, robot.gripper_joints)
        self._payload = self.model.body(PAYLOAD_BODY).id
        self._target_mocap = self.model.body_mocapid[self.model.body(TARGET_BODY).id]
        sched = reality.section("dynamics").get("payload_schedule", [])
        self._schedule = sorted((e["t"], e["mass"]) for e in sched)
        self._ee = self.model.body(robot.end_effector).id
        self.reset()

    def reset(self, q: np.ndarray | None = None) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qadr] = self.robot.home if q is None else q
        self.data.qpos[self._gqadr] = self.robot.gripper_hold
        self.data.ctrl[self.n:] = self.robot.gripper_hold
        self._next_event = 0
        mujoco.mj_forward(self.model, self.data)

    @property
    def time(self) -> float:
        return float(self.data.time)

    def step(self, tau: np.ndarray) -> None:
        """Advance one control period with joint torques tau (n,) N m (clipped to the motor range)."""
        self.data.ctrl[: self.n] = tau
        while self._next_event < len(self._schedule) and self._schedule[self._next_event][0] <= self.data.time:
            self.set_payload_mass(self._schedule[self._next_event][1])
            self._next_event += 1
        mujoco.mj_step(self.model, self.data)

    def set_payload_mass(self, mass: float) -> None:
        """Change the payload on the end effector (kg); 0 removes it."""
        m = max(mass, 1e-6)
        self.model.body_mass[self._payload] = m
        self.model.body_inertia[self._payload] = m * 4e-4
        # mj_setConst works in the MjData it is given (it leaves qpos at qpos0): give it a scratch one
        mujoco.mj_setConst(self.model, mujoco.MjData(self.model))
        mujoco.mj_forward(self.model, self.data)

    @property
    def payload_mass(self) -> float:
        m = float(self.model.body_mass[self._payload])
        return 0.0 if m <= 1e-6 else m

    def joint_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q rad, qd rad/s, effort N m) of the arm joints, true values."""
        d = self.data
        return d.qpos[self._qadr].copy(), d.qvel[self._dadr].copy(), d.actuator_force[: self.n].copy()

    def set_target(self, pos) -> None:
        self.data.mocap_pos[self._target_mocap] = pos

    def target(self) -> np.ndarray:
        return self.data.mocap_pos[self._target_mocap].copy()

    def ee_position(self) -> np.ndarray:
        return self.data.xpos[self._ee].copy()
