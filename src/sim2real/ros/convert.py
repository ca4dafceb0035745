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
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from sim2real.sim.model_builder import fovy_to_focal


def publish_diagnostics(node, pub, name: str, hardware_id: str, message: str, problems: dict, values) -> None:
    """One DiagnosticStatus on /diagnostics: OK unless there are problems (then WARN, each named
    with its count after the message); values (key, value) pairs, the problems appended."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    st = DiagnosticStatus(name=name, hardware_id=hardware_id)
    st.level = DiagnosticStatus.OK if not problems else DiagnosticStatus.WARN
    st.message = message + "".join(f"; {k} ({v}x)" for k, v in problems.items())
    st.values = [KeyValue(key=k, value=str(v)) for k, v in (*values, *problems.items())]
    arr = DiagnosticArray(status=[st])
    arr.header.stamp = node.get_clock().now().to_msg()
    pub.publish(arr)


def latency_ms(times_s: list) -> tuple[float, float, float]:
    """(p50, p99, max) in ms of the last 200 timings (s); zeros when there are none."""
    t = np.array(times_s[-200:]) * 1e3
    return (float(np.percentile(t, 50)), float(np.percentile(t, 99)), float(t.max())) if len(t) else (0.0, 0.0, 0.0)


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
_STAMP_INTO = struct.Struct("<iI").pack_into
_STAMP_FROM = struct.Struct("<iI").unpack_from
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


def clock_cdr(t: float) -> bytes:
    """rosgraph_msgs/Clock at t s, serialized."""
    sec, nanosec = divmod(int(round(t * 1e9)), 1_000_000_000)    # as to_time
    return _CDR_LE + _STAMP(sec, nanosec)


class JointStateWriter:
    """`joint_state_cdr` for a steady stream (the same frame, names and field sizes in every
    message, as a driver publishes): one buffer whose values are written in place through the
    numpy views `position`, `velocity` and `effort`; `serialize(stamp)` writes the stamp and gives
    the bytes, equal to joint_state_cdr's for the same values. Slots not written keep their value
    (zeros at the start)."""

    def __init__(self, names, n_position: int, n_velocity: int, n_effort: int, frame_id: str = ""):
        sizes = (8 * n_position, 8 * n_velocity, 8 * n_effort)
        a, b, c = _layout(("js", frame_id, tuple(names), *sizes), _joint_state_layout)
        self._buf = bytearray(_CDR_LE + bytes(8))
        views = []
        for part, nbytes in zip((a, b, c), sizes):
            self._buf += part
            views.append((len(self._buf), nbytes // 8))
            self._buf += bytes(nbytes)
        self.position, self.velocity, self.effort = (np.frombuffer(self._buf, "<f8", n, at) for at, n in views)

    def serialize(self, stamp: float) -> bytes:
        sec, nanosec = divmod(int(round(stamp * 1e9)), 1_000_000_000)    # as to_time
        _STAMP_INTO(self._buf, 4, sec, nanosec)
        return bytes(self._buf)


class ImuWriter:
    """`imu(stamp, frame, ...)` serialized, for a steady stream of one frame: the values written
    into one buffer (covariances 0, as imu's); equal to what rclpy decodes into imu's message."""

    def __init__(self, frame_id: str):
        out = bytearray(_CDR_LE + bytes(8))
        _cdr_string(out, frame_id)
        _pad(out, 8)
        self._at = len(out)
        out += bytes(8 * 37)        # orientation (4) + cov (9), angular velocity (3) + cov, linear acc (3) + cov
        self._buf = out
        v = np.frombuffer(out, "<f8", 37, self._at)
        self._orientation, self._gyro, self._accel = v[0:4], v[13:16], v[25:28]

    def serialize(self, stamp: float, quat_wxyz, gyro, accel) -> bytes:
        w, x, y, z = quat_wxyz
        o = self._orientation
        o[0], o[1], o[2], o[3] = x, y, z, w          # ROS: x, y, z, w
        self._gyro[:] = gyro
        self._accel[:] = accel
        sec, nanosec = divmod(int(round(stamp * 1e9)), 1_000_000_000)
        _STAMP_INTO(self._buf, 4, sec, nanosec)
        return bytes(self._buf)


# ---- reading them back: the bytes a raw subscription takes -----------------------------------

class JointStateReader:
    """Serialized sensor_msgs/JointState -> (stamp s, q, qd, effort or None, problem), in the
    robot's joint order: what `from_time(msg.header.stamp)`, `JointMap.extract(msg)` and
    `JointMap.effort(msg)` give for the message. A message laid out byte for byte as
    joint_state_cdr lays out the last one read (same frame, names and sizes: a driver's steady
    stream) is read in place; any other is deserialized and read through the JointMap."""

    def __init__(self, joint_names):
        self.map = JointMap(joint_names)
        self._shape: tuple | None = None

    # the last message read in place, for the robot's joints: (its bytes, joint names, what read gave).
    # Composed nodes are handed the very same bytes object (ros/sourced.py's in-process delivery):
    # the policy, controller and safety filter then decode a state once, as rclcpp's intra-process
    # subscribers share one const message. The arrays are read-only, so no reader can change another's.
    _shared: tuple = (None, (), None)

    def read(self, data: bytes) -> tuple[float, np.ndarray, np.ndarray, np.ndarray | None, str | None]:
        shared = JointStateReader._shared
        if shared[0] is data and shared[1] == self.map.names:
            return shared[2]
        s = self._shape
        # the layout's fixed bytes, compared in place: frame, names and counts (the stamp aside)
        if s is not None and len(data) == s[0] and data.startswith(s[1], 12) and data.startswith(s[3], s[2]) \
                and data.startswith(s[5], s[4]) and data.startswith(_CDR_LE):
            sec, nanosec = _STAMP_FROM(data, 4)
            t = sec + 1e-9 * nanosec
            # the doubles from the positions on, counts and all, as one array; the robot's joints
            # of the three fields picked with one index
            values = np.frombuffer(data, "<f8", s[7], s[6])[s[8]]
            n = s[9]
            q, qd = values[:n], values[n:2 * n]
            if not s[10]:            # no velocities: zeros, as extract gives
                qd = np.zeros(n)
            eff = values[2 * n:] if s[11] else None
            values.flags.writeable = False      # q, qd, eff are views of it
            if not s[10]:
                qd.flags.writeable = False
            if not math.isfinite(sum(q.tolist()) + sum(qd.tolist())):
                out = t, q, qd, eff, "NaN/inf in joint state"
            else:
                out = t, q, qd, eff, None
            JointStateReader._shared = (data, self.map.names, out)
            return out
        msg = deserialize_message(data, JointState)
        q, qd, problem = self.map.extract(msg)
        eff = self.map.effort(msg)
        if problem is None:
            self._learn(data, msg)
        return from_time(msg.header.stamp), q, qd, eff, problem

    def _learn(self, data: bytes, msg: JointState) -> None:
        """Remember the message's layout when joint_state_cdr gives these very bytes for it."""
        self._shape = None
        fields = [np.asarray(getattr(msg, f)) for f in ("position", "velocity", "effort")]
        built = joint_state_cdr(0.0, msg.name, *fields, frame_id=msg.header.frame_id)
        if len(data) != len(built) or data[:4] != built[:4] or data[12:] != built[12:]:   # the stamp aside
            return
        a, b, c = _layout(("js", msg.header.frame_id, tuple(msg.name), *(8 * f.size for f in fields)),
                          _joint_state_layout)
        at_pos = 12 + len(a)
        at_b = at_pos + 8 * fields[0].size
        at_vel = at_b + len(b)
        at_c = at_vel + 8 * fields[1].size
        at_eff = at_c + len(c)
        idx = self.map.indices(msg.name)
        vel, eff = fields[1].size > 0, fields[2].size == len(msg.name)
        if (vel and (at_vel - at_pos) % 8) or (eff and (at_eff - at_pos) % 8):
            return                   # (CDR aligns each field's doubles to 8: never here)
        pick = [idx]
        if vel:
            pick.append((at_vel - at_pos) // 8 + idx)
        if eff:
            pick.append((at_eff - at_pos) // 8 + idx)
        if not vel:     # q, then (no qd slot), then effort: keep effort after 2 n
            pick.insert(1, idx)
        self._shape = (len(data), a, at_b, b, at_c, c, at_pos, (len(data) - at_pos) // 8,
                       np.concatenate(pick), len(idx), vel, eff)


class Float64ArrayReader:
    """Serialized std_msgs/Float64MultiArray -> its data as a float64 array (read-only when read in
    place). A message laid out as effort_command_cdr lays out the last one read is read in place;
    any other is deserialized."""

    def __init__(self):
        self._length, self._head = -1, b""

    def read(self, data: bytes) -> np.ndarray:
        if len(data) == self._length and data.startswith(self._head):
            return np.frombuffer(data, "<f8", -1, len(self._head))
        values = np.asarray(deserialize_message(data, Float64MultiArray).data, dtype=float)
        if values.size and effort_command_cdr(values) == data:
            self._length, self._head = len(data), _layout(("effort", 8 * values.size), _effort_layout)[0]
        return values


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
