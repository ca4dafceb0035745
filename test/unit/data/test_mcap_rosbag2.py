"""What rosbag2's MCAP plugin writes, McapRecorder writes: channels with `offered_qos_profiles` (YAML,
rosbag2's field names and rmw's policy strings) and `topic_type_hash`, schemas `ros2msg`, messages
`cdr`, and a `rosbag2` Metadata record (serialized_metadata, ROS_DISTRO) at open and at close."""
import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.reader import read_ros2_messages

from sim2real.data import cdr
from sim2real.data.mcap_io import (INFINITE_NS, ROSBAG2_VERSION, McapRecorder, qos_yaml, read_messages,
                                   rosbag2_qos)
from sim2real.data.recover import recover

NAMES = [f"joint_{i}" for i in range(1, 8)]
RELIABLE = rosbag2_qos("keep_last", 10, "reliable", "volatile")
LATCHED = rosbag2_qos("keep_last", 1, "reliable", "transient_local", deadline_ns=1_500_000_000)
QOS_KEYS = ["history", "depth", "reliability", "durability", "deadline", "lifespan", "liveliness",
            "liveliness_lease_duration", "avoid_ros_namespace_conventions"]   # rosbag2 qos.cpp, in order


def state(k: int) -> bytes:
    return cdr.joint_state(k * 0.002, NAMES, np.full(7, float(k)), np.zeros(7), np.zeros(7))


def record(path, n=50):
    rec = McapRecorder(path, custom_data={"time_base": "sim"})
    js = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState", [RELIABLE], "RIHS01_abc")
    tgt = rec.add_topic("/sim/target", "geometry_msgs/msg/PointStamped", [LATCHED, RELIABLE])
    bare = rec.add_topic("/effort_controller/commands", "std_msgs/msg/Float64MultiArray")
    for k in range(n):
        rec.write(js, state(k), 1_000_000 + k * 2_000_000)
    rec.write(tgt, cdr.encoder("geometry_msgs/msg/PointStamped")({
        "header": {"stamp": {"sec": 0, "nanosec": 1_000_000}, "frame_id": "base"},
        "point": {"x": 0.1, "y": 0.2, "z": 0.3}}), 1_000_000)
    return rec, bare


def test_qos_profile_is_rosbag2s_format():
    assert list(RELIABLE) == QOS_KEYS
    assert RELIABLE["deadline"] == {"sec": 9223372036, "nsec": 854775807}   # RMW_DURATION_INFINITE
    assert LATCHED["deadline"] == {"sec": 1, "nsec": 500_000_000}
    assert yaml.safe_load(qos_yaml([RELIABLE, LATCHED])) == [RELIABLE, LATCHED]
    assert qos_yaml(None) == "[]" and yaml.safe_load(qos_yaml([])) == []
    with pytest.raises(ValueError, match="reliability"):
        qos_yaml([{**RELIABLE, "reliability": 1}])     # integers are the pre-version-9 format
    assert rosbag2_qos("keep_last", 1, "reliable", "volatile", INFINITE_NS + 5)["deadline"]["sec"] == 9223372036


def test_channels_and_metadata_record_as_rosbag2_writes_them(tmp_path):
    path = tmp_path / "run.mcap"
    rec, _ = record(path)
    rec.close()
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        records = list(reader.iter_metadata())
    assert summary.statistics.message_count == 51
    by_topic = {c.topic: c for c in summary.channels.values()}
    for topic, c in by_topic.items():
        assert c.message_encoding == "cdr" and summary.schemas[c.schema_id].encoding == "ros2msg"
        assert set(c.metadata) == {"offered_qos_profiles", "topic_type_hash"}
    assert yaml.safe_load(by_topic["/joint_states"].metadata["offered_qos_profiles"]) == [RELIABLE]
    assert yaml.safe_load(by_topic["/sim/target"].metadata["offered_qos_profiles"]) == [LATCHED, RELIABLE]
    assert yaml.safe_load(by_topic["/effort_controller/commands"].metadata["offered_qos_profiles"]) == []
    assert by_topic["/joint_states"].metadata["topic_type_hash"] == "RIHS01_abc"

    assert [r.name for r in records] == ["rosbag2", "rosbag2"]          # at open, and at close
    for r in records:
        assert set(r.metadata) == {"serialized_metadata", "ROS_DISTRO"}
    first, last = (yaml.safe_load(r.metadata["serialized_metadata"]) for r in records)
    assert first["message_count"] == 0 and first["topics_with_message_count"] == []
    assert last["version"] == ROSBAG2_VERSION and last["storage_identifier"] == "mcap"
    assert last["message_count"] == 51
    assert last["starting_time"] == {"nanoseconds_since_epoch": 1_000_000}
    assert last["duration"] == {"nanoseconds": 49 * 2_000_000}
    assert last["custom_data"] == {"time_base": "sim"} and last["relative_file_paths"] == ["run.mcap"]
    topics = {t["topic_metadata"]["name"]: t for t in last["topics_with_message_count"]}
    assert {n: t["message_count"] for n, t in topics.items()} == {
        "/joint_states": 50, "/sim/target": 1, "/effort_controller/commands": 0}
    js = topics["/joint_states"]["topic_metadata"]
    assert js == {"name": "/joint_states", "type": "sensor_msgs/msg/JointState", "serialization_format": "cdr",
                  "offered_qos_profiles": [RELIABLE], "type_description_hash": "RIHS01_abc"}
    # the readers are unchanged by it
    assert len(list(read_messages(path))) == 51
    assert sum(1 for _ in read_ros2_messages(str(path))) == 51


def test_publish_time_is_the_log_time(tmp_path):
    path = tmp_path / "run.mcap"
    rec, _ = record(path, n=5)
    rec.close()
    with open(path, "rb") as f:
        msgs = [m for _, _, m in make_reader(f).iter_messages()]
    assert msgs and all(m.publish_time == m.log_time for m in msgs)


def test_a_torn_recording_keeps_the_qos_and_the_opening_record(tmp_path):
    """A killed writer: recovered, the channels keep their QoS and the opening `rosbag2` record survives."""
    path = tmp_path / "killed.mcap"
    rec, _ = record(path)
    rec.sync()
    torn = tmp_path / "torn.mcap"
    torn.write_bytes(path.read_bytes())     # as the file stood before close(): no summary, no footer
    rec.close()
    out = recover(torn, tmp_path / "torn.recovered.mcap")
    assert out.messages == 51
    with open(out.output, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        records = list(reader.iter_metadata())
    qos = {c.topic: yaml.safe_load(c.metadata["offered_qos_profiles"]) for c in summary.channels.values()}
    assert qos["/joint_states"] == [RELIABLE] and qos["/sim/target"] == [LATCHED, RELIABLE]
    assert [r.name for r in records] == ["rosbag2"]
    assert yaml.safe_load(records[0].metadata["serialized_metadata"])["version"] == ROSBAG2_VERSION
