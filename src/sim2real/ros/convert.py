"""Every message conversion in one place: ROS messages <-> numpy arrays in the robot's joint order.

float64[] fields are filled with array.array('d'): rosidl then skips its per-element type checks,
which cost more than the rest of a control step.

`joint_state_cdr` and `effort_command_cdr` give the messages of `joint_state` and
`effort_command` already serialized (CDR, what the middleware sends), for the publishers of the
control loop: `publisher.publish(bytes)` sends them as they are, without building a Python
message and converting it to C (bench/cdr_messages.py, here: a 9-joint state built and published
in 4.9 us instead of 13.1, a 7-joint command in 3.5 instead of 9.1; the Jaco's lockstep graph ran
5.5% faster with the driver, controller and safety filter publishing them). Subscribers receive
ordinary messages; bench/cdr_messages.py checks that they equal what the namesakes build.
"""
from __future__ import annotations

import math
import struct
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


# ---- the same two messages, serialized -------------------------------------------------------
# XCDR1, little endian (the encapsulation says so; any host reads it): primitives aligned to their
# size from the start of the payload, strings as uint32 length (with the NUL) + bytes + NUL,
# sequences as uint32 count + elements. Deserialized, each equals the message its namesake builds.
_CDR_LE = b"\x00\x01\x00\x00"
_U32 = struct.Struct("<I").pack
_STAMP = struct.Struct("<iI").pack
_LAYOUTS: dict[tuple, tuple[bytes, ...]] = {}     # the bytes between the float64[] fields, per shape


def _f64(x) -> bytes:
    return np.asarray(x, dtype="<f8").ravel().tobytes()


def _pad(out: bytearray, n: int) -> None:
    out += bytes(-(len(out) - 4) % n)       # alignment counts from the payload, after the encapsulation


def _cdr_string(out: bytearray, s: str) -> None:
    b = s.encode()
    _pad(out, 4)
    out += _U32(len(b) + 1)
    out += b
    out += b"\0"


def _layout(key: tuple, build) -> tuple[bytes, ...]:
    parts = _LAYOUTS.get(key)
    if parts is None:
        if len(_LAYOUTS) > 256:      # names that keep changing: no unbounded cache
            _LAYOUTS.clear()
        parts = _LAYOUTS[key] = build(*key[1:])
    return parts


def _joint_state_layout(frame_id: str, names: tuple, *sizes: int) -> tuple[bytes, ...]:
    """(frame_id + names + position's count, velocity's count, effort's count), each with the padding
    before it and before its doubles; sizes in bytes."""
    out = bytearray(_CDR_LE + bytes(8))      # the stamp's place
    _cdr_string(out, frame_id)
    _pad(out, 4)
    out += _U32(len(names))
    for name in names:
        _cdr_string(out, name)
    parts, start = [], 12
    for nbytes in sizes:
        _pad(out, 4)
        out += _U32(nbytes // 8)
        if nbytes:
            _pad(out, 8)
        parts.append(bytes(out[start:]))
        out += bytes(nbytes)
        start = len(out)
    return tuple(parts)


def joint_state_cdr(stamp: float, names, q, qd=None, effort=None, frame_id: str = "") -> bytes:
    """joint_state(...), serialized: publish it on a sensor_msgs/JointState topic."""
    fields = (_f64(q), b"" if qd is None else _f64(qd), b"" if effort is None else _f64(effort))
    a, b, c = _layout(("js", frame_id, tuple(names), *map(len, fields)), _joint_state_layout)
    sec, nanosec = divmod(int(round(stamp * 1e9)), 1_000_000_000)    # as to_time
    return b"".join((_CDR_LE, _STAMP(sec, nanosec), a, fields[0], b, fields[1], c, fields[2]))


def _effort_layout(nbytes: int) -> tuple[bytes]:
    n = nbytes // 8
    out = bytearray(_CDR_LE)
    out += _U32(1)                           # layout.dim: one dimension
    _cdr_string(out, "joints")
    _pad(out, 4)
    out += _U32(n) + _U32(n)                 # size, stride
    out += _U32(0)                           # layout.data_offset
    out += _U32(n)                           # data
    if n:
        _pad(out, 8)
    return (bytes(out),)


def effort_command_cdr(tau) -> bytes:
    """effort_command(tau), serialized: publish it on a std_msgs/Float64MultiArray topic."""
    data = _f64(tau)
    return _layout(("effort", len(data)), _effort_layout)[0] + data


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
