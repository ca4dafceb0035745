"""Recorder node: chosen topics -> .mcap in the rosbag2 layout (see data/mcap_io.py).

Subscribes with raw=True so messages are stored as the CDR bytes that crossed DDS. Its
subscriptions are served by the hub (ros/sourced.py): in a composition every message of the
lockstep chain reaches it in-process, in order, before the next step (none is lost however fast
the graph runs); from other processes, in order as DDS delivers them (depth 100). Topic names
resolve as ROS resolves them ('joint_states' -> '/joint_states' in the root namespace). Topics
that are not yet advertised are looked up again every 0.2 s until they appear. The file is
flushed at least every 0.2 s by the recorder's own thread and finished on destroy_node().
"""
from __future__ import annotations

import importlib
from pathlib import Path

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data

from sim2real.data.mcap_io import McapRecorder
from sim2real.errors import Sim2RealError
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions

PARAMS = {
    "path": ("runs/recording.mcap", "output .mcap file"),
    "topics": (["/joint_states", "/effort_controller/commands", "/controller/desired", "/sim/target"],
               "topics to record"),
    "overwrite": (False, "replace an existing file at path (otherwise refuse to start)"),
    "continue_in_parts": (False, "if path exists, record to <stem>.part2.mcap, .part3 ... instead of "
                                 "refusing (a supervised recorder restarted after a crash)"),
}


def next_part(path: Path) -> Path:
    """<stem>.partN<suffix> for the smallest N >= 2 that does not exist yet."""
    n = 2
    while (cand := path.with_name(f"{path.stem}.part{n}{path.suffix}")).exists():
        n += 1
    return cand


def get_message(type_name: str):
    """The message class of 'pkg/msg/Type'."""
    pkg, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__("recorder", **kwargs)
        p = declare(self, PARAMS)
        self.wanted = {self.resolve_topic_name(t) for t in p.topics}
        path = Path(p.path)
        if p.continue_in_parts and not p.overwrite and path.exists():
            path = next_part(path)
            self.get_logger().warning(f"{p.path} exists (a restart?): recording continues in {path}")
        self.rec = McapRecorder(path, overwrite=p.overwrite)
        self.sourced = SourcedSubscriptions(self)
        self.subscribed: set[str] = set()
        self.unrecordable: dict[str, str] = {}    # topic -> why (e.g. no message definition)
        self.create_timer(0.2, self._discover, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._discover()

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic not in self.wanted or topic in self.subscribed or topic in self.unrecordable or not types:
                continue
            try:
                cls = get_message(types[0])
                cid = self.rec.add_topic(topic, types[0])
            except (Sim2RealError, ImportError, AttributeError, ValueError) as e:
                self.unrecordable[topic] = f"{types[0]}: {e}"
                self.get_logger().error(f"cannot record {topic}: {self.unrecordable[topic]}")
                continue
            qos = qos_profile_sensor_data if topic.startswith("/camera") else QoSProfile(depth=100)
            pubs = self.get_publishers_info_by_topic(topic)
            if pubs and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in pubs):
                # latched topics (/sim/target, /robot_description): a late recorder still gets them
                qos = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.sourced.add(cls, topic, qos, lambda data, _gid, c=cid: self._write(c, data), raw=True)
            self.subscribed.add(topic)

    def _write(self, cid: int, data: bytes) -> None:
        self.rec.write(cid, data, self.get_clock().now().nanoseconds)

    def silent_topics(self) -> dict[str, str]:
        """Wanted topics that recorded nothing so far -> why."""
        counts = self.rec.counts
        return {t: self.unrecordable.get(t) or ("advertised, no messages" if t in self.subscribed
                                                else "never advertised")
                for t in sorted(self.wanted) if not counts.get(t)}

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()     # no write after the footer
        self.rec.close()
        return super().destroy_node()
