"""The perception node: /camera/image_raw (sensor_msgs/Image) -> /perception/target
(geometry_msgs/PointStamped in the robot's base frame, stamped with the image's stamp) through the
trained keypoint CNN on ONNX Runtime (perception/net.py, one thread; stage 2, perception/refine.py,
refines the target and its foot on crops of the camera's own pixels where its checkpoint exists) and the geometry of
perception/geometry.py, and /perception/confidence (std_msgs/Float32, in (0, 1]:
1 / (1 + (sigma / tol)^2), sigma the expected error from the keypoints' spread, tol the reach task's
tolerance) right after each target.

The camera calibrates itself against the arm while it runs: each image's landmark keypoints (arm
bodies) are paired with their forward kinematics at the /joint_states nearest the image's stamp,
and the camera's pose and field of view are refitted from the newest pairs once a second (the
report, and how far the camera sits from its nominal mount, are on /diagnostics). The per-frame
logic (keypoints, calibration, location, the tracked estimate and the arm's occlusion of the target)
is perception/pipeline.py's TargetPipeline, which offline replays run as well; frames in which the
hand lies in front of the target are counted on /diagnostics.

Images are taken from `image_source` only (the driver), pinned like every control input; of those
that arrived since the last wake only the newest is used. A malformed image (encoding, sizes, data
length, empty, another aspect ratio) or a non-finite network output publishes nothing and is
counted on /diagnostics (1 Hz), which also reports the inference time (p50, p99, max over the last
second), frames in and out, and the last confidence. A target below `min_confidence` (default 0.3:
an expected error of about 3 cm) is not published and does not move the estimate (0 publishes every one).

/perception/target is latched (transient local, reliable), as the policy subscribes to it.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float32

from sim2real.image import decode_msg
from sim2real.perception.net import DEFAULT_SCHEMES, Localizer, default_checkpoint
from sim2real.perception.pipeline import TargetPipeline, image_problem
from sim2real.perception.refine import default_refiner
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions

PARAMS = {"robot": ("jaco", "registered robot name"),
          "checkpoint": ("", "perception checkpoint NAME.pt (+ .json, .onnx); empty: models/ROBOT/perception_<scheme>.pt, "
                             "the first of " + ", ".join(DEFAULT_SCHEMES)),
          "refine_checkpoint": ("", "stage-2 checkpoint (perception/refine.py); empty: models/ROBOT/perception_refine.pt "
                                    "where it exists; 'none': stage 1 only"),
          "image_source": ("driver", "the only node whose /camera/image_raw is taken"),
          "state_source": ("driver", "the only node whose /joint_states are taken (the camera's calibration)"),
          "calibrate": (True, "calibrate the camera against the arm's forward kinematics while running"),
          "min_confidence": (0.3, "targets whose confidence is below this are not published (0: every one)")}
STATE_KEEP_S = 1.0      # joint states kept to pair with images (by stamp)


class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.ckpt = p.checkpoint or str(default_checkpoint(self.robot.name))
        self.loc = Localizer(self.ckpt, self.robot)
        self.refiner = default_refiner(self.robot, p.refine_checkpoint or None)
        self.refined = 0
        self.frame = self.robot.base_link
        latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_target = self.create_publisher(PointStamped, "/perception/target", latched)
        self.pub_conf = self.create_publisher(Float32, "/perception/confidence", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.problems: dict[str, int] = {}
        self.frames_in = self.frames_out = self.occluded = 0
        self.last_conf = float("nan")
        self._problems_lock = threading.Lock()
        self._wake = threading.Condition()
        self._waiting: tuple | None = None
        self._stop = False
        from scipy.optimize import least_squares  # noqa: F401 - imported now, not in the first fit (~0.7 s)
        self._worker = threading.Thread(target=self._work, name="perception", daemon=True)
        self._worker.start()
        self.pipe = TargetPipeline(self.loc, self.robot, calibrate=p.calibrate, min_confidence=p.min_confidence,
                                   refiner=self.refiner)
        self.cal = self.pipe.cal
        self.states: list[tuple[float, np.ndarray]] = []
        self.sourced = SourcedSubscriptions(self)
        self.sourced.add_from(p.image_source, Image, "/camera/image_raw", self._on_image,
                              lambda who: self._problem(f"refused /camera/image_raw from {who}"))
        if self.pipe.calibrating:
            self.reader = convert.JointStateReader(self.robot.joint_names)
            self.sourced.add_from(p.state_source, JointState, "/joint_states", self._on_state,
                                  lambda who: self._problem(f"refused /joint_states from {who}"), raw=True)
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"perception '{self.loc.scheme}' from {self.ckpt}; stage 2 "
                               + (f"from {self.refiner.path}" if self.refiner else "none"))

    def _problem(self, what: str) -> None:
        with self._problems_lock:
            self.problems[what] = self.problems.get(what, 0) + 1

    def _on_state(self, data: bytes) -> None:
        t, q, _, _, problem = self.reader.read(data)
        if problem or not np.all(np.isfinite(q)):
            return
        if self.states and t - self.states[-1][0] < 0.005:
            return
        self.states.append((t, np.array(q, float)))
        if t - self.states[0][0] > STATE_KEEP_S:
            del self.states[:len(self.states) // 4]

    def _state_at(self, t: float) -> np.ndarray | None:
        states = list(self.states)          # the executor's thread appends while the worker reads
        if not states:
            return None
        ts = np.array([s[0] for s in states])
        i = int(np.argmin(np.abs(ts - t)))
        return states[i][1] if abs(ts[i] - t) <= 0.02 else None

    def _on_image(self, msg: Image) -> None:
        """Decode and check the frame here; the CNN, geometry and calibration run on the node's
        worker thread (ONNX Runtime releases the GIL): ~4 ms of inference a frame must not hold up
        the control loop composed in the same process. A frame arriving while the worker is busy
        replaces the one waiting (the newest is the one that counts)."""
        self.frames_in += 1
        try:
            img, problem = decode_msg(msg)
            if img is not None:
                problem = image_problem(img, self.robot.camera.width, self.robot.camera.height)
        except Exception as e:  # noqa: BLE001 - a bad frame must never take the node down
            img, problem = None, f"{type(e).__name__}: {e}"
        if problem:
            self._problem(f"image ignored: {problem}")
            return
        with self._wake:
            self._waiting = (img, convert.from_time(msg.header.stamp))
            self._wake.notify()

    def _work(self) -> None:
        next_fit = 0.0
        while True:
            with self._wake:
                while self._waiting is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                img, stamp = self._waiting
                self._waiting = None
            self._process(img, stamp)
            if time.monotonic() >= next_fit:
                self._recalibrate()            # once a second (the first fit: in _process, as soon as there are points)
                next_fit = time.monotonic() + 1.0

    def _process(self, img: np.ndarray, stamp: float) -> None:
        try:
            q = self._state_at(stamp) if self.pipe.calibrating else None
            r = self.pipe.frame(img, q)
        except Exception as e:  # noqa: BLE001 - a bad frame must never take the node down
            self._problem(f"image ignored: {type(e).__name__}: {e}")
            return
        if self.pipe.calibration_problem:
            self._problem(self.pipe.calibration_problem)
        if np.isfinite(r.confidence):
            self.last_conf = r.confidence
        if r.problem:
            self._problem(r.problem)
            return
        self.occluded += int(r.hidden)
        self.refined += r.refined
        self.pub_target.publish(convert.point(stamp, self.frame, r.target))
        self.pub_conf.publish(Float32(data=r.confidence))
        self.frames_out += 1

    def _recalibrate(self) -> bool:
        done = self.pipe.recalibrate()
        if self.pipe.calibration_problem:
            self._problem(self.pipe.calibration_problem)
        return done

    def _diagnostics(self) -> None:
        with self._problems_lock:
            problems, self.problems = self.problems, {}
        c = self.cal.report
        p50, p99, mx = convert.latency_ms(self.loc.infer_s)
        self.loc.infer_s.clear()
        r50, _, rmx = convert.latency_ms(self.refiner.infer_s) if self.refiner else (float("nan"),) * 3
        if self.refiner:
            self.refiner.infer_s.clear()
        convert.publish_diagnostics(
            self, self.pub_diag, "sim2real/perception", self.robot.name,
            f"perception ({self.loc.scheme}): inference p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"confidence {self.last_conf:.2f}", problems,
            (("scheme", self.loc.scheme), ("checkpoint", self.ckpt), ("frames_in", self.frames_in),
             ("frames_out", self.frames_out), ("confidence", f"{self.last_conf:.3f}"),
             ("inference_p50_ms", f"{p50:.3f}"), ("inference_p99_ms", f"{p99:.3f}"), ("inference_max_ms", f"{mx:.3f}"),
             ("frames_arm_in_front", self.occluded), ("stage2", str(self.refiner.path) if self.refiner else "none"),
             ("stage2_points", self.refined), ("stage2_p50_ms", f"{r50:.3f}"), ("stage2_max_ms", f"{rmx:.3f}"), ("calibration_points", len(self.cal.uv)),
             ("calibration_reprojection_px", f"{c.get('median_px', float('nan')):.2f}"),
             ("camera_moved_cm", f"{100 * c.get('moved_m', 0.0):.1f}"), ("camera_turned_deg", f"{c.get('turned_deg', 0.0):.2f}")))

    def destroy_node(self):
        if hasattr(self, "_wake"):
            with self._wake:
                self._stop = True
                self._wake.notify()
            self._worker.join(timeout=2.0)
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
