"""Every message conversion in one place: ROS messages <-> numpy arrays in the robot's joint order.

float64[] fields are filled with array.array('d'): rosidl then skips its per-element type checks,
which cost more than the rest of a control step.
"""
from __future__ import annotations

import math
from array import array

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from sim2real.sim.model_builder import fovy_to_focal


def to_time(t: float) -> Time:
    sec, nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)   # rounding never carries into a wrong second
    return Time(sec=sec, nanosec=nanosec)


def from_time(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


class JointMap:
    """Picks the robot's joints out of a JointState by name (any order, extra joints ignored).

    Caches the index map per name tuple, so a steady stream costs one tuple compare.
    """

    def __init__(self, joint_names):
        self.names = tuple(joint_names)
        self._key: tuple | None = None
        self._idx: np.ndarray | None = None

    def indices(self, names) -> np.ndarray | None:
        key = tuple(names)
        if key != self._key:
            self._key = key
            try:
                self._idx = np.array([key.index(n) for n in self.names])
            except ValueError:
                self._idx = None
        return self._idx

    def extract(self, msg: JointState) -> tuple[np.ndarray, np.ndarray, str | None]:
        """(q, qd, problem); problem names what is wrong (missing joints, sizes, NaN) or is None."""
        idx = self.indices(msg.name)
        if idx is None:
            missing = sorted(set(self.names) - set(msg.name))
            return np.empty(0), np.empty(0), f"joint names do not match the robot (missing {missing})"
        pos, vel = np.asarray(msg.position), np.asarray(msg.velocity)
        if pos.size != len(msg.name) or (vel.size and vel.size != len(msg.name)):
            return np.empty(0), np.empty(0), f"{len(msg.name)} names but {pos.size} positions/{vel.size} velocities"
        q = pos[idx]
        qd = vel[idx] if vel.size else np.zeros(len(idx))
        # one sum, NaN/inf propagate; over Python floats: numpy's reductions cost ~1 us each on 7 values
        if not math.isfinite(sum(q.tolist()) + sum(qd.tolist())):
            return q, qd, "NaN/inf in joint state"
        return q, qd, None

    def effort(self, msg: JointState) -> np.ndarray | None:
        """Measured joint torques in the robot's order, or None when the message carries none."""
        idx = self.indices(msg.name)
        eff = np.asarray(msg.effort)
        if idx is None or eff.size != len(msg.name):
            return None
        return eff[idx]


def floats(x) -> array:
    return array("d", np.asarray(x, dtype=np.float64).tobytes())


def joint_state(stamp: float, names, q, qd=None, effort=None, frame_id: str = "") -> JointState:
    msg = JointState()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame_id
    msg.name = list(names)
    msg.position = floats(q)
    if qd is not None:
        msg.velocity = floats(qd)
    if effort is not None:
        msg.effort = floats(effort)
    return msg


def effort_command(tau) -> Float64MultiArray:
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label="joints", size=len(tau), stride=len(tau))]
    msg.data = floats(tau)
    return msg


def point(stamp: float, frame: str, xyz) -> PointStamped:
    msg = PointStamped()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame
    msg.point.x, msg.point.y, msg.point.z = (float(v) for v in xyz)
    return msg


def from_point(msg: PointStamped) -> np.ndarray:
    return np.array([msg.point.x, msg.point.y, msg.point.z])


def image(stamp: float, frame: str, rgb: np.ndarray) -> Image:
    msg = Image()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = 3 * msg.width
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def camera_info(stamp: float, frame: str, width: int, height: int, fovy_deg: float) -> CameraInfo:
    """Pinhole intrinsics of a MuJoCo camera (square pixels, centred principal point)."""
    f = fovy_to_focal(fovy_deg, height)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    msg = CameraInfo()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame
    msg.width, msg.height = width, height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    msg.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def imu(stamp: float, frame: str, quat_wxyz, gyro, accel) -> Imu:
    """sensor_msgs/Imu from MuJoCo's (w, x, y, z) orientation (world), angular velocity (rad/s)
    and linear acceleration (m/s^2, gravity reaction included) in the IMU frame. Covariances
    unknown (0)."""
    msg = Imu()
    msg.header.stamp = to_time(stamp)
    msg.header.frame_id = frame
    w, x, y, z = (float(v) for v in quat_wxyz)
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = x, y, z, w   # ROS: x, y, z, w
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in gyro)
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (float(v) for v in accel)
    return msg
