"""A recording made by the recorder node is what `ros2 bag record -s mcap` would have written:
every channel says what QoS its publishers offered, a `rosbag2` metadata record, and one time base
(log times agree with the header stamps: sim time in lockstep, wall time on the real-time twin)."""
import time

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from sim2real.data.mcap_io import ROSBAG2_VERSION, read_messages

from .helpers import graph, spin_sim

pytestmark = pytest.mark.ros


def offered(comp, topic: str) -> set[tuple[str, str]]:
    """(reliability, durability) of every publisher on `topic` in the composition, as rosbag2 spells them."""
    return {(ReliabilityPolicy(p.qos_profile.reliability).name.lower(),
             DurabilityPolicy(p.qos_profile.durability).name.lower())
            for node in comp.nodes.values() for p in node.publishers if p.topic_name == topic}


def stamp_lag(path, topic="/joint_states") -> np.ndarray:
    """log time - header stamp, s, of every message on `topic`."""
    return np.array([log * 1e-9 - (m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec)
                     for _, m, log in read_messages(path, [topic])])


def test_lockstep_recording_has_qos_rosbag2_record_and_sim_log_times(tmp_path):
    path = tmp_path / "run.mcap"
    with graph(targets=1, record=str(path)) as g:
        dt = g.nodes["driver"].robot.dt
        spin_sim(g, 1.0)
        expected = {t: offered(g, t) for t in g.nodes["recorder"].subscribed}
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        records = list(reader.iter_metadata())
        msgs = [(c.topic, m) for _, c, m in reader.iter_messages()]

    channels = {c.topic: c for c in summary.channels.values()}
    assert {"/joint_states", "/effort_controller/commands", "/sim/target", "/controller/desired"} <= set(channels)
    for topic, c in channels.items():
        profiles = yaml.safe_load(c.metadata["offered_qos_profiles"])
        assert isinstance(profiles, list) and profiles, topic
        assert {(p["reliability"], p["durability"]) for p in profiles} == expected[topic], topic
        assert c.message_encoding == "cdr" and summary.schemas[c.schema_id].encoding == "ros2msg"
        assert c.metadata["topic_type_hash"].startswith("RIHS01_")
    assert {(p["reliability"], p["durability"])
            for p in yaml.safe_load(channels["/sim/target"].metadata["offered_qos_profiles"])} == {
        ("reliable", "transient_local")}

    assert records and {r.name for r in records} == {"rosbag2"}
    meta = yaml.safe_load(records[-1].metadata["serialized_metadata"])
    assert meta["version"] == ROSBAG2_VERSION and meta["storage_identifier"] == "mcap"
    assert meta["custom_data"]["time_base"] == "sim"
    assert meta["message_count"] == summary.statistics.message_count == len(msgs)
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}
    assert counts == {t: summary.statistics.channel_message_counts.get(c.id, 0) for t, c in channels.items()}
    assert meta["starting_time"]["nanoseconds_since_epoch"] == summary.statistics.message_start_time

    # one time base: sim time, the stamps' own, to within a control period (the /clock the
    # recorder's ROS clock follows ticks only every 20 ms)
    assert all(m.publish_time == m.log_time for _, m in msgs)
    lag = stamp_lag(path)
    assert len(lag) > 400
    assert np.all(np.abs(lag) <= dt + 1e-9), (lag.min(), lag.max())
    assert 0.9 < summary.statistics.message_end_time * 1e-9 < 1.1       # a second of sim time


def test_realtime_twin_recording_logs_in_wall_time_like_its_stamps(tmp_path):
    path = tmp_path / "twin.mcap"
    with graph(backend="twin", targets=1, record=str(path)) as g:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            g.executor.spin_once(timeout_sec=0.05)
    lag = stamp_lag(path)
    assert len(lag) > 50
    # wall clock, the stamps' base: a delivery delay, never the ~1.8e9 s between 1970 and now
    assert np.all(lag > -0.01) and np.median(lag) < 0.05, (lag.min(), np.median(lag), lag.max())
    with open(path, "rb") as f:
        meta = yaml.safe_load(list(make_reader(f).iter_metadata())[-1].metadata["serialized_metadata"])
    assert meta["custom_data"]["time_base"] == "wall"
    assert meta["starting_time"]["nanoseconds_since_epoch"] > 1.5e18        # a date after 2017
