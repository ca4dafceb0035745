"""A trained reach policy at run time (the ROS node and the lockstep evaluation use this one class).

Loads NAME.pt/.json (checked against the robot, the kind and the observation layout this code
builds; learn/checkpoint.py) and runs NAME.onnx with ONNX Runtime on one thread. Each call
takes the measured state and the target and returns the desired state to publish; on missing or
non-finite inputs, or a non-finite network output, it returns the last safe desired position
with zero velocity and says why (the node turns that into a diagnostic).

A checkpoint that observes the loop's delay (extrinsic feature "loop_delay", policy/reach_core.py)
reads `loop_delay_s`: the delay the safety filter measures (its /diagnostics `loop_delay_ms`,
which the node forwards; the lockstep evaluation sets it from its filter), 0 until one is known
(what the filter reports for a fast loop). Checkpoints without the feature ignore it.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError
from sim2real.policy.reach_core import ReachCore
from sim2real.policy.train import KIND
from sim2real.tasks.reach import ReachTask


class LearnedReach:
    def __init__(self, path: str | Path, robot, nominal=None):
        import onnxruntime as ort

        from sim2real.control.nominal_model import NominalModel
        from sim2real.learn.checkpoint import checkpoint_files, load_checkpoint
        self.robot = robot
        pt, _ = checkpoint_files(path)
        _, meta = load_checkpoint(pt, KIND, robot)
        self.meta = meta
        features = tuple(meta.get("extrinsic_features", ()))     # checkpoints before it: none
        try:
            self.core = ReachCore(robot, ReachTask.from_robot(robot), int(meta.get("extrinsics", 0)) - len(features),
                                  float(meta.get("action_speed", 0.8)),   # checkpoints before it was recorded: 0.8
                                  features=features, speed_lag=float(meta.get("speed_lag", 0.0)))
        except ValueError as e:
            raise ConfigError(f"{pt.with_suffix('.json')}: {e}") from None
        if meta.get("obs_size") != self.core.layout.size:
            raise ConfigError(f"{pt.with_suffix('.json')}: obs_size is {meta.get('obs_size')!r}, this code builds "
                              f"{self.core.layout.size} (retrain it)")
        onnx = pt.with_suffix(".onnx")
        if not onnx.is_file():
            raise ConfigError(f"{onnx}: missing (the checkpoint's ONNX export; retrain or re-export it)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        try:
            self.sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ConfigError(f"{onnx}: ONNX Runtime cannot load it ({e})") from None
        inp = self.sess.get_inputs()[0]
        if inp.shape[-1] != self.core.layout.size:
            raise ConfigError(f"{onnx}: takes {inp.shape[-1]} inputs, the checkpoint's layout has {self.core.layout.size}")
        self.input = inp.name
        self.nominal = nominal or NominalModel(robot)
        self.q_d: np.ndarray | None = None
        self.prev_action = np.zeros(robot.n)
        self.v_cmd = np.zeros(robot.n)          # the desired speed (ReachCore.command_speed)
        self.loop_delay_s = 0.0                 # s, as the safety filter measures it (set_loop_delay)
        self.infer_s: list[float] = []          # inference times, s (the node reports percentiles)

    @property
    def scheme(self) -> str:
        return self.meta.get("scheme", "?")

    @property
    def observes_delay(self) -> bool:
        return "loop_delay" in self.core.layout.features

    def set_loop_delay(self, seconds: float) -> bool:
        """The loop's delay from now on (s, the safety filter's figure); False (and unchanged) if
        it is not a finite number >= 0."""
        s = float(seconds)
        if not (np.isfinite(s) and s >= 0.0):
            return False
        self.loop_delay_s = s
        return True

    def reset(self) -> None:
        self.q_d = None
        self.prev_action[:] = 0.0
        self.v_cmd[:] = 0.0

    def act(self, q, qd, target, extrinsics=None) -> tuple[np.ndarray, np.ndarray, str | None]:
        """(q_d rad, qd_d rad/s, problem or None) to publish for the state measured now."""
        q = np.asarray(q, float)
        if self.q_d is None and np.all(np.isfinite(q)):
            self.q_d = q.copy()
        if target is None:
            return self._hold(q, "no target yet")
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd)) and np.all(np.isfinite(target))):
            return self._hold(q, "non-finite input")
        obs = self.core.observe(q, np.asarray(qd, float), np.asarray(target, float), self.nominal.ee_position(q),
                                self.q_d, self.prev_action, extrinsics, {"loop_delay": self.loop_delay_s})
        t0 = time.perf_counter()
        a = self.sess.run(None, {self.input: obs[None]})[0][0].astype(float)
        self.infer_s.append(time.perf_counter() - t0)
        if len(self.infer_s) > 5000:
            del self.infer_s[:2500]
        if not np.all(np.isfinite(a)):
            return self._hold(q, "non-finite network output")
        a = np.clip(a, -1.0, 1.0)
        self.v_cmd = self.core.command_speed(a, self.v_cmd, self.loop_delay_s)
        q_d, qd_d = self.core.desired(a, q, self.q_d, self.v_cmd)
        self.q_d = q_d + qd_d * self.core.period
        self.prev_action = a
        return q_d, qd_d, None

    def _hold(self, q, why: str):
        if self.q_d is None:      # nothing safe known yet: the node publishes nothing
            return None, None, why
        self.prev_action[:] = 0.0
        self.v_cmd[:] = 0.0
        return self.q_d.copy(), np.zeros(self.robot.n), why
