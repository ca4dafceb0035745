"""The loop below the reach policy, for blocks of simulations (policy/env.py's ReachSims): the
environment's controller (Tracker), one block's policy period of the graph's loop at the control
rate (Block.run), and a block run in a forked process of its own that shares the simulations'
arrays (BlockProcess). See policy/env.py for the loop itself (latencies, lag, noise, the safety
filter) and why blocks run on separate cores.
"""
from __future__ import annotations

import copy
import mmap
import multiprocessing
import signal
import traceback
from typing import TYPE_CHECKING

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from sim2real.control.computed_torque import HoldTerm
from sim2real.control.nominal_model import NominalModel
from sim2real.control.reference import Desired, ReferenceModel
from sim2real.policy.reach_core import LOAD_OFFSET, load_utilization
from sim2real.safety.filter import SafetyFilter

if TYPE_CHECKING:
    from sim2real.policy.env import ReachSims

HISTORY = 32            # control periods of state and command history (latencies up to 62 ms at 500 Hz)
V_EPS = 0.02            # rad/s, as control/computed_torque.py smooths the friction sign


def shared_zeros(shape, dtype=float) -> np.ndarray:
    """Zeros in an anonymous shared mapping: a block's process (forked, Block) and this one see
    the same memory."""
    nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype, int(np.prod(shape))).reshape(shape)


class Tracker:
    """The environment's controller (see the module docstring), batched over simulations."""

    def __init__(self, robot, nominal: NominalModel):
        self.nominal = nominal
        self.ref = ReferenceModel.for_robot(robot)
        self.hold = HoldTerm(robot, self.ref)     # the graph's hold term, one row per simulation
        self.damping = nominal.model.dof_damping[nominal.dadr].copy()
        self.friction = nominal.frictionloss.copy()
        self.limit = robot.effort_limit
        self._M = np.zeros((nominal.model.nv, nominal.model.nv))
        self._jac = np.zeros((3, nominal.model.nv))
        self.M: np.ndarray | None = None      # (N, n, n), filled by inertia() once a policy period

    def inertia(self, q: np.ndarray, data: mujoco.MjData, M: np.ndarray,
                jac_z: np.ndarray | None = None) -> np.ndarray:
        """The nominal joint-space inertia at each row of q (N, n) into M (N, n, n), and the
        nominal end effector there (N, 3), returned; with `jac_z` (N, n), the vertical row of the
        Jacobian at the reward's reference payload (reach_core.load_utilization) into it. One
        pass a posture: kinematics, composite rigid bodies, mj_fullM (no dynamics pass: ~15 us).
        `data`: the nominal model's MjData to use (one per thread)."""
        nm = self.nominal
        m = nm.model
        ee = np.empty((len(q), 3))
        for i, x in enumerate(q):
            data.qpos[nm.qadr] = x
            mujoco.mj_kinematics(m, data)
            mujoco.mj_comPos(m, data)
            mujoco.mj_crb(m, data)
            mujoco.mj_fullM(m, data, self._M)
            M[i] = self._M[nm._ix]
            ee[i] = data.xpos[nm.ee]
            if jac_z is not None:
                mujoco.mj_jac(m, data, self._jac, None, ee[i] + LOAD_OFFSET * data.xmat[nm.ee].reshape(3, 3)[:, 2], nm.ee)
                jac_z[i] = self._jac[2, nm.dadr]
        return ee

    def end_effector(self, q: np.ndarray, data: mujoco.MjData) -> np.ndarray:
        """The nominal end effector at each row of q (N, n) -> (N, 3): kinematics only."""
        nm = self.nominal
        ee = np.empty((len(q), 3))
        for i, x in enumerate(q):
            data.qpos[nm.qadr] = x
            mujoco.mj_kinematics(nm.model, data)
            ee[i] = data.xpos[nm.ee]
        return ee

    def feedforward(self, qd_d: np.ndarray) -> np.ndarray:
        """The nominal Coulomb friction in the direction of the desired motion (constant over a
        policy period: the desired velocity is)."""
        return self.friction * np.tanh(qd_d / V_EPS)

    def torque(self, q, qd, q_d, qd_d, ff) -> np.ndarray:
        """Unclipped: the safety filter's effort limit clips it (SafetyFilter.limits)."""
        a = self.ref.accel(q, qd, Desired(q_d, qd_d))
        a += self.hold.update(q, qd, q_d, qd_d)
        tau = np.matmul(self.M, a[:, :, None])[:, :, 0]
        tau += self.damping * qd
        tau += ff
        return tau


class Block:
    """A contiguous block of the simulations whose loop runs on a core of its own (one block per
    process, ReachSims.advance): its rows' controller state (the hold term, in shared memory),
    safety filter rows, sensor-noise stream and MjData (physics, and the nominal model's
    kinematics), so blocks share nothing while they run (the same seed gives the same
    trajectories however many blocks run)."""

    def __init__(self, sims: "ReachSims", b: int, start: int, stop: int, base: mujoco.MjModel):
        self.b, self.sl = b, slice(start, stop)
        self.start, self.size = start, stop - start
        self.local = np.arange(self.size)
        self.tracker = Tracker(sims.robot, sims.nominal)
        self.tracker.hold.z = shared_zeros((self.size, sims.robot.n))
        self.safety = SafetyFilter(sims.robot)
        self.rng = block_rng(sims.seed, b)                        # sensor noise, this block's rows
        self.data = mujoco.MjData(base)                            # physics
        self._rollout = mj_rollout.Rollout(nthread=0)              # on the calling thread
        self.kin = copy.copy(sims.nominal.data)                    # the nominal model's kinematics
        self.ee = shared_zeros((self.size, 3))          # after a period: true end effector, load, measured state
        self.load = shared_zeros((self.size, sims.robot.n))
        self.jac_z = shared_zeros((self.size, sims.robot.n))
        self.q_obs = shared_zeros((self.size, sims.robot.n))
        self.qd_obs = shared_zeros((self.size, sims.robot.n))
        self.ee_obs = shared_zeros((self.size, 3))

    def run(self, s: "ReachSims", q_d: np.ndarray, qd_d: np.ndarray, k0: int) -> None:
        """One policy period of the loop for this block's rows (ReachSims.advance), then what the
        policy's step needs of them: the true end effector and load, and the next measurement."""
        sl, L, nj = self.sl, self.local, s.robot.n
        dt, T = s.robot.dt, s.core.period
        q_d, qd_d = q_d[sl], qd_d[sl]
        S, out, ctrl = s.S[sl], s._out[sl], s._ctrl[sl]
        xh, cmdh, lagged = s.xh[sl], s.cmdh[sl], s.lagged[sl]
        lat_s, lat_c = s.lat_state[sl], s.lat_cmd[sl]
        alpha, strength = s.alpha[sl], s.strength[sl]
        models, datas = s.models[sl], [self.data]
        # sensor noise of the measurements this period takes: at the control periods after the
        # first (whose measurement is the one the policy saw, ReachSims.q_meas) and at its end
        noise = self.rng.standard_normal((s.ctrl_per_action, self.size, 2, nj))
        noise *= s.noise_std[sl]

        def measured(k, j):
            x = xh[L, (k - lat_s) % HISTORY]
            x += noise[j]
            return x[:, 0], x[:, 1]

        ff = self.tracker.feedforward(qd_d)
        # the desired state is stamped with the state the policy saw: a state measured j periods
        # later is j periods after it
        ahead = np.minimum(np.arange(s.ctrl_per_action) * dt, 2 * T)
        q_des = q_d + qd_d * ahead[:, None, None]
        k = k0
        for j in range(s.ctrl_per_action):
            q, qd = (s.q_meas[sl], s.qd_meas[sl]) if j == 0 else measured(k, j - 1)
            tau = self.tracker.torque(q, qd, q_des[j], qd_d, ff)
            tau, _ = self.safety.limits(tau, q, qd)      # the graph's safety filter, on the same states
            cmdh[:, k % HISTORY] = tau
            arrived = cmdh[L, (k - lat_c) % HISTORY]
            lagged += alpha * (arrived - lagged)
            ctrl[:, :, :nj] = (strength * lagged)[:, None, :]
            if s.log_on:
                s.log[1][sl, j] = ctrl
            self._rollout.rollout(models, datas, S, ctrl, nstep=s.substeps, state=out, skip_checks=True)
            S[:] = out[:, -1]
            k += 1
            xh[:, k % HISTORY] = S[:, s.iqv].reshape(-1, 2, nj)
        self.ee[:] = self.tracker.end_effector(S[:, s.iq], self.kin)       # the true end effector (the reward's distance)
        # the next measurement: what the policy sees, the next period's M(q) (once a period: it
        # changes slowly) and first control state, and the reward's load term in that posture
        self.q_obs[:], self.qd_obs[:] = measured(k, -1)
        s.q_meas[sl], s.qd_meas[sl] = self.q_obs, self.qd_obs
        self.ee_obs[:] = self.tracker.inertia(self.q_obs, self.kin, self.tracker.M, self.jac_z)
        self.load[:] = load_utilization(self.tracker.M, self.jac_z, s.core.amax, s.gravity)


def block_rng(seed: int, b: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7919, b])


class BlockProcess:
    """A block's loop in a forked process: it shares the simulations' arrays (shared_zeros) with
    this one, gets each period's desired states, new models and flags through a pipe, and
    answers when its rows have stepped. In one process the GIL serialized the two blocks'
    Python (they waited ~1 ms a period each for it); here each has an interpreter of its own.
    It ignores SIGINT (the parent's Ctrl-C stops it through close()) and leaves when its pipe
    closes, whichever way the parent ends."""

    def __init__(self, sims: "ReachSims", blk: Block):
        self.blk = blk
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(sims, blk, child, self.conn), daemon=True,
                                name=f"reach-sims-block{blk.b}")
        self.proc.start()
        child.close()
        self._busy = False

    def start_run(self, q_d, qd_d, k0, models, log_on) -> None:
        self.conn.send(("run", (np.asarray(q_d), np.asarray(qd_d), k0, models, log_on)))
        self._busy = True

    def finish_run(self) -> None:
        self._busy = False
        self._answer()

    def call(self, what: str, arg) -> None:
        self.conn.send((what, arg))
        self._answer()

    def _answer(self) -> None:
        try:
            err = self.conn.recv()
        except EOFError:
            raise RuntimeError(f"the process of simulation block {self.blk.b} ended (exit code "
                               f"{self.proc.exitcode})") from None
        if err is not None:
            raise RuntimeError(f"simulation block {self.blk.b} failed:\n{err}")

    def stop(self) -> None:
        try:
            if self._busy:
                self.conn.recv()
            self.conn.send(("stop", None))
        except (OSError, EOFError, BrokenPipeError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
        self.conn.close()


def stop_workers(workers: list) -> None:
    for w in workers:
        w.stop()


def _serve(sims: "ReachSims", blk: Block, conn, parent_end) -> None:
    """The block process's loop (see BlockProcess)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent_end.close()
    while True:
        try:
            what, arg = conn.recv()
        except (EOFError, OSError):
            return
        if what == "stop":
            return
        try:
            if what == "seed":
                blk.rng = block_rng(arg, blk.b)
            elif what == "run":
                q_d, qd_d, k0, models, sims.log_on = arg
                for i, m in models.items():
                    sims.models[i] = m
                blk.safety.set_loop_delay(sims._loop_delay[blk.sl])
                blk.run(sims, q_d, qd_d, k0)
            conn.send(None)
        except Exception:
            conn.send(traceback.format_exc())
