"""Recorder node: chosen topics -> .mcap in the rosbag2 layout (see data/mcap_io.py).

Subscribes with raw=True so messages are stored as the CDR bytes that crossed DDS. Topics that
are not yet advertised are looked up again every second until they appear.
"""
from __future__ import annotations

import importlib

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data


from sim2real.data.mcap_io import McapRecorder
from sim2real.ros.params import declare

PARAMS = {
    "path": ("runs/recording.mcap", "output .mcap file"),
    "topics": (["/joint_states", "/effort_controller/commands", "/controller/desired", "/sim/target"],
               "topics to record"),
}


def get_message(type_name: str):
    """The message class of 'pkg/msg/Type'."""
    pkg, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__("recorder", **kwargs)
        p = declare(self, PARAMS)
        self.rec = McapRecorder(p.path)
        self.wanted = set(p.topics)
        self.subscribed: set[str] = set()
        self.create_timer(0.2, self._discover, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._discover()

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.wanted and topic not in self.subscribed and types:
                cls = get_message(types[0])
                cid = self.rec.add_topic(topic, types[0])
                qos = qos_profile_sensor_data if topic.startswith("/camera") else 100
                self.create_subscription(cls, topic, lambda data, c=cid: self._write(c, data), qos, raw=True)
                self.subscribed.add(topic)

    def _write(self, cid: int, data: bytes) -> None:
        self.rec.write(cid, data, self.get_clock().now().nanoseconds)

    def destroy_node(self):
        self.rec.close()
        return super().destroy_node()
