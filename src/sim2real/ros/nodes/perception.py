"""The perception node: /camera/image_raw (sensor_msgs/Image) -> /perception/target
(geometry_msgs/PointStamped in the robot's base frame, stamped with the image's stamp) through the
trained CNN on ONNX Runtime (perception/net.py, one thread), and /perception/confidence
(std_msgs/Float32, in (0, 1]: 1 / (1 + (sigma / tol)^2), sigma the network's own error estimate,
tol the reach task's tolerance) right after each target.

Images are taken from `image_source` only (the driver), pinned like every control input; of those
that arrived since the last wake only the newest is used. A malformed image (encoding, sizes, data
length, empty, another aspect ratio) or a non-finite network output publishes nothing and is
counted on /diagnostics (1 Hz), which also reports the inference time (p50, p99, max over the last
second), frames in and out, and the last confidence. A target below `min_confidence` is not
published (0, the default, publishes every one).

/perception/target is latched (transient local, reliable), as the policy subscribes to it.
"""
from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32

from sim2real.image import decode_msg, fit
from sim2real.perception.net import DEFAULT_SCHEMES, Localizer, confidence, default_checkpoint
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions

PARAMS = {"robot": ("jaco", "registered robot name"),
          "checkpoint": ("", "perception checkpoint NAME.pt (+ .json, .onnx); empty: models/ROBOT/perception_<scheme>.pt, "
                             "the first of " + ", ".join(DEFAULT_SCHEMES)),
          "image_source": ("driver", "the only node whose /camera/image_raw is taken"),
          "min_confidence": (0.0, "targets whose confidence is below this are not published")}


class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.ckpt = p.checkpoint or str(default_checkpoint(self.robot.name))
        self.loc = Localizer(self.ckpt, self.robot)
        self.frame = self.robot.base_link
        latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_target = self.create_publisher(PointStamped, "/perception/target", latched)
        self.pub_conf = self.create_publisher(Float32, "/perception/confidence", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.problems: dict[str, int] = {}
        self.frames_in = self.frames_out = 0
        self.last_conf = float("nan")
        self.sourced = SourcedSubscriptions(self)
        self.sourced.add_from(p.image_source, Image, "/camera/image_raw", self._on_image,
                              lambda who: self._problem(f"refused /camera/image_raw from {who}"))
        self.create_timer(1.0, self._diagnostics)
        self.get_logger().info(f"perception '{self.loc.scheme}' from {self.ckpt}")

    def _problem(self, what: str) -> None:
        self.problems[what] = self.problems.get(what, 0) + 1

    def _on_image(self, msg: Image) -> None:
        self.frames_in += 1
        try:
            img, problem = decode_msg(msg)
            if img is not None:
                img, problem = fit(img, self.loc.height, self.loc.width)
            if problem:
                self._problem(f"image ignored: {problem}")
                return
            target, sigma = self.loc.predict(img)
        except Exception as e:  # noqa: BLE001 - a bad frame must never take the node down
            self._problem(f"image ignored: {type(e).__name__}: {e}")
            return
        xyz, s = target[0], float(sigma[0])
        if not (np.all(np.isfinite(xyz)) and np.isfinite(s)):
            self._problem("non-finite network output")
            return
        conf = float(confidence(s, self.loc.tol_m))
        self.last_conf = conf
        if conf < self.p.min_confidence:
            self._problem(f"target below min_confidence {self.p.min_confidence}")
            return
        stamp = convert.from_time(msg.header.stamp)
        self.pub_target.publish(convert.point(stamp, self.frame, xyz))
        self.pub_conf.publish(Float32(data=conf))
        self.frames_out += 1

    def _diagnostics(self) -> None:
        problems, self.problems = self.problems, {}
        p50, p99, mx = convert.latency_ms(self.loc.infer_s)
        self.loc.infer_s.clear()
        convert.publish_diagnostics(
            self, self.pub_diag, "sim2real/perception", self.robot.name,
            f"perception ({self.loc.scheme}): inference p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
            f"confidence {self.last_conf:.2f}", problems,
            (("scheme", self.loc.scheme), ("checkpoint", self.ckpt), ("frames_in", self.frames_in),
             ("frames_out", self.frames_out), ("confidence", f"{self.last_conf:.3f}"),
             ("inference_p50_ms", f"{p50:.3f}"), ("inference_p99_ms", f"{p99:.3f}"), ("inference_max_ms", f"{mx:.3f}")))

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
