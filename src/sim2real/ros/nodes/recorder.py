"""Recorder node: chosen topics -> .mcap in the rosbag2 layout (see data/mcap_io.py).

Subscribes with raw=True so messages are stored as the CDR bytes that crossed DDS. Its
subscriptions are served by the hub (ros/sourced.py): in a composition every message of the
lockstep chain reaches it in-process, in order, before the next step (none is lost however fast
the graph runs); from other processes, in order as DDS delivers them (depth 100). Topic names
resolve as ROS resolves them ('joint_states' -> '/joint_states' in the root namespace). A topic
is taken once it has a publisher (looked up again every 0.2 s until then), so its channel carries
the QoS its publishers offer (`offered_qos_profiles`, as rosbag2 records it: `ros2 bag play` offers
them again) and its type hash. The file is flushed at least every 0.2 s by the recorder's own
thread and finished on destroy_node().

Time base (data/mcap_io.py): log and publish time are this node's ROS clock at receipt, so they
agree with the stamps the driver puts on its messages: sim time under use_sim_time (mujoco
lockstep, gazebo), wall time otherwise (twin, hardware). The lockstep driver publishes /clock only
every 20 ms of sim time (driver.py CLOCK_PERIOD_S) while it steps every control period, so on sim
time a message's own header stamp refines the clock: a stamp no earlier than the clock and at most
SIM_CLOCK_WINDOW_S ahead of it says sim time has reached it (every node of the graph stamps with
the state's time or its own clock, never ahead of sim time), and the clock never goes back
between two /clock messages. Unstamped messages (commands) take the latest time known. Within
the window a spoofed future stamp can move log times forward, by at most the window.
"""
from __future__ import annotations

import importlib
import struct
from pathlib import Path

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

from sim2real.data.mcap_io import McapRecorder, rosbag2_qos
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


SIM_CLOCK_WINDOW_S = 0.1   # s: how far a stamp may lead the sim clock and still advance it (> /clock's 20 ms)


def offered_qos(infos) -> list[dict]:
    """The publishers' QoS (get_publishers_info_by_topic) as rosbag2 records them."""
    out = []
    for i in infos:
        q = i.qos_profile
        out.append(rosbag2_qos(
            HistoryPolicy(q.history).name.lower(), q.depth, ReliabilityPolicy(q.reliability).name.lower(),
            DurabilityPolicy(q.durability).name.lower(), q.deadline.nanoseconds, q.lifespan.nanoseconds,
            LivelinessPolicy(q.liveliness).name.lower(), q.liveliness_lease_duration.nanoseconds,
            q.avoid_ros_namespace_conventions))
    return out


def stamped(cls) -> bool:
    """Does the message start with a std_msgs/Header (its stamp the first 8 bytes of the CDR body)?"""
    fields = cls.get_fields_and_field_types()
    return bool(fields) and next(iter(fields)) == "header" and fields["header"] == "std_msgs/Header"


def cdr_stamp_ns(data: bytes) -> int | None:
    """header.stamp of a stamped message's CDR bytes, ns (None when too short)."""
    if len(data) < 12:
        return None
    sec, nsec = struct.unpack_from("<iI" if data[1] & 1 else ">iI", data, 4)   # byte 1: CDR_LE = 1
    return sec * 1_000_000_000 + nsec


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
        self.sim_time = bool(self.get_parameter("use_sim_time").value)
        self._floor = 0                       # ns: the latest sim time a stamp showed (see the docstring)
        self._window = int(SIM_CLOCK_WINDOW_S * 1e9)
        self.rec = McapRecorder(path, overwrite=p.overwrite,
                                custom_data={"time_base": "sim" if self.sim_time else "wall"})
        self.sourced = SourcedSubscriptions(self)
        self.subscribed: set[str] = set()
        self.unrecordable: dict[str, str] = {}    # topic -> why (e.g. no message definition)
        self.create_timer(0.2, self._discover, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._discover()

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic not in self.wanted or topic in self.subscribed or topic in self.unrecordable or not types:
                continue
            pubs = [i for i in self.get_publishers_info_by_topic(topic) if i.topic_type == types[0]]
            if not pubs:
                continue     # known from its subscribers only: wait for a publisher and its QoS
            try:
                cls = get_message(types[0])
                cid = self.rec.add_topic(topic, types[0], offered_qos(pubs),
                                        str(getattr(pubs[0], "topic_type_hash", "") or ""))
            except (Sim2RealError, ImportError, AttributeError, ValueError) as e:
                self.unrecordable[topic] = f"{types[0]}: {e}"
                self.get_logger().error(f"cannot record {topic}: {self.unrecordable[topic]}")
                continue
            qos = qos_profile_sensor_data if topic.startswith("/camera") else QoSProfile(depth=100)
            if all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in pubs):
                # latched topics (/sim/target, /robot_description): a late recorder still gets them
                qos = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            has_stamp = self.sim_time and stamped(cls)
            self.sourced.add(cls, topic, qos, lambda data, _gid, c=cid, s=has_stamp: self._write(c, data, s), raw=True)
            self.subscribed.add(topic)

    def _write(self, cid: int, data: bytes, has_stamp: bool = False) -> None:
        self.rec.write(cid, data, self.log_time(data if has_stamp else None))

    def log_time(self, data: bytes | None = None) -> int:
        """Receive time on this node's clock, ns; on sim time refined by a stamped message's own
        stamp (`data`, its CDR bytes), as the module docstring says. Called from the hub's one thread."""
        now = self.get_clock().now().nanoseconds
        if not self.sim_time:
            return now
        stamp = cdr_stamp_ns(data) if data is not None else None
        if stamp is not None and now <= stamp <= now + self._window and stamp > self._floor:
            self._floor = stamp
        return self._floor if now <= self._floor <= now + self._window else now

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
