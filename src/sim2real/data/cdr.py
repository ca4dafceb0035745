"""CDR encoding of ROS 2 messages from plain values, without rclpy (mcap_ros2's encoder over the
schemas the message wheels ship), for recordings written outside a running graph."""
from __future__ import annotations

from functools import lru_cache

from mcap_ros2._dynamic import serialize_dynamic

from sim2real.data.msgdefs import schema_text


@lru_cache(maxsize=None)
def encoder(type_name: str):
    return serialize_dynamic(type_name, schema_text(type_name))[type_name]


def _time(t: float) -> dict:
    ns = int(round(t * 1e9))
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


def joint_state(stamp: float, names, q, qd, effort) -> bytes:
    return encoder("sensor_msgs/msg/JointState")({
        "header": {"stamp": _time(stamp), "frame_id": ""}, "name": list(names),
        "position": [float(v) for v in q], "velocity": [float(v) for v in qd], "effort": [float(v) for v in effort]})


def float64_array(values) -> bytes:
    return encoder("std_msgs/msg/Float64MultiArray")({
        "layout": {"dim": [], "data_offset": 0}, "data": [float(v) for v in values]})
