"""The controller's belief about the robot: the nominal MuJoCo model.

Controllers use it without a reality profile. Only the benchmark's oracle is built with one
(`reality=`): it is the yardstick that knows the truth, never a controller that ships.

Gives what classical control needs: joint-space mass matrix, bias forces (Coriolis, centrifugal,
gravity), passive forces, forward kinematics, the end-effector Jacobian and a position IK.
"""
from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots.spec import RobotSpec
from sim2real.sim.model_builder import PAYLOAD_BODY, build_model, joint_indices
from sim2real.sim.reality import NOMINAL, RealityProfile


def _run(idx: np.ndarray):
    """A slice for addresses that run consecutively (a, a+1, ...), else the addresses."""
    idx = np.asarray(idx)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


class NominalModel:
    def __init__(self, robot: RobotSpec, reality: RealityProfile = NOMINAL):
        self.robot = robot
        self.model = build_model(robot, reality)
        # dynamics need no contacts, limits or friction constraints (friction is its own term):
        # skipping them leaves M and h unchanged and saves a fifth of a control step's model work
        self.model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONSTRAINT)
        self.data = mujoco.MjData(self.model)
        self.qadr, self.dadr = joint_indices(self.model, robot.joint_names)
        gq, _ = joint_indices(self.model, robot.gripper_joints)
        self.data.qpos[gq] = robot.gripper_hold
        self.ee = self.model.body(robot.end_effector).id
        self.frictionloss = self.model.dof_frictionloss[self.dadr].copy()
        self._M = np.zeros((self.model.nv, self.model.nv))
        self._jacp = np.zeros((3, self.model.nv))
        self._ix = np.ix_(self.dadr, self.dadr)
        # the robot's joints as slices where their addresses run consecutively (cheaper to index)
        self._qsel, self._dsel = _run(self.qadr), _run(self.dadr)
        self._Msel = (self._dsel, self._dsel) if isinstance(self._dsel, slice) else self._ix
        self._last: dict = {}           # dynamics(): the last two states asked, and their answers

    def set_payload_mass(self, mass: float) -> None:
        self._last.clear()              # the model changes: no answer of the old one stands
        b = self.model.body(PAYLOAD_BODY).id
        m = max(mass, 1e-6)
        self.model.body_mass[b] = m
        self.model.body_inertia[b] = m * 4e-4
        # mj_setConst works in the MjData it is given (it leaves qpos at qpos0): give it a scratch one
        mujoco.mj_setConst(self.model, mujoco.MjData(self.model))
        mujoco.mj_forward(self.model, self.data)

    def set_state(self, q: np.ndarray, qd: np.ndarray | None = None) -> None:
        self.data.qpos[self.qadr] = q
        self.data.qvel[self.dadr] = 0.0 if qd is None else qd
        mujoco.mj_forward(self.model, self.data)

    def dynamics(self, q, qd) -> tuple[np.ndarray, np.ndarray]:
        """(M (n,n) kg m^2, h (n,) N m) with tau = M qdd + h; h = bias - passive (damping).

        The last two states' answers are kept: a guarded mode and its baseline ask for this state's
        dynamics, the guard's error model for the one before (fresh copies each)."""
        key = np.asarray(q, float).tobytes() + np.asarray(qd, float).tobytes()
        hit = self._last.get(key)
        if hit is not None:
            return hit[0].copy(), hit[1].copy()
        M, h = self._dynamics(q, qd)
        if len(self._last) >= 2:         # this state's and the one before (the guard's error model's)
            self._last.pop(next(iter(self._last)))
        self._last[key] = (M, h)
        return M.copy(), h.copy()

    def _dynamics(self, q, qd) -> tuple[np.ndarray, np.ndarray]:
        m, d = self.model, self.data
        d.qpos[self._qsel] = q
        d.qvel[self._dsel] = qd
        # set_state's mj_forward up to the stages M, the bias and the passive forces come from
        # (position and velocity): the same values, without actuation, acceleration and sensors
        # (test/unit/control/test_computed_torque.py); two calls, each of which lets go of the GIL
        mujoco.mj_fwdPosition(m, d)
        mujoco.mj_fwdVelocity(m, d)
        mujoco.mj_fullM(m, d, self._M)
        return self._M[self._Msel].copy(), d.qfrc_bias[self._dsel] - d.qfrc_passive[self._dsel]

    def ee_position(self, q) -> np.ndarray:
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.xpos[self.ee].copy()

    def ee_jacobian(self, q) -> np.ndarray:
        """(3, n) positional Jacobian of the end effector, world frame."""
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        mujoco.mj_jacBody(self.model, self.data, self._jacp, None, self.ee)
        return self._jacp[:, self.dadr].copy()

    def ik(self, target: np.ndarray, q0: np.ndarray, iters: int = 200, tol: float = 1e-4,
           posture: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Position IK by damped least squares with a null-space pull to `posture` (home).

        Returns (q, residual m). Joint limits are respected by clipping each iterate.
        """
        r = self.robot
        q = np.array(q0, float)
        posture = r.home if posture is None else posture
        lo = np.where(np.isfinite(r.position_lower), r.position_lower + r.safety.position_margin, -np.inf)
        hi = np.where(np.isfinite(r.position_upper), r.position_upper - r.safety.position_margin, np.inf)
        lam2 = 1e-3
        err = np.inf
        for _ in range(iters):
            e = target - self.ee_position(q)
            err = float(np.linalg.norm(e))
            if err < tol:
                break
            J = self.ee_jacobian(q)
            JJt = J @ J.T + lam2 * np.eye(3)
            Jpinv = J.T @ np.linalg.solve(JJt, np.eye(3))
            dq = Jpinv @ e + 0.1 * (np.eye(r.n) - Jpinv @ J) @ (posture - q)
            step = np.max(np.abs(dq))
            if step > 0.2:           # keep iterates in the linear region
                dq *= 0.2 / step
            q = np.clip(q + dq, lo, hi)
        return q, err
