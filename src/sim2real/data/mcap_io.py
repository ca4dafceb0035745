"""MCAP recording in the rosbag2 layout, and the reader training code uses.

What rosbag2's MCAP storage plugin (rosbag2_storage_mcap/src/mcap_storage.cpp: create_topic,
update_metadata, read_metadata) writes, so `ros2 bag info|play` reads a recording as one of its own:
- profile `ros2`, schemas encoded `ros2msg` (the full definition text, data/msgdefs.py), messages `cdr`;
- on every channel the metadata `offered_qos_profiles`: a YAML list of the publishers' QoS in
  rosbag2's format (rosbag2_storage/src/rosbag2_storage/qos.cpp, convert<Rosbag2QoS>::encode):
  history, depth, reliability, durability, deadline, lifespan, liveliness,
  liveliness_lease_duration, avoid_ros_namespace_conventions, the policies as rmw's strings
  (keep_last, reliable, transient_local, automatic, ...; metadata version >= 9) and durations as
  {sec, nsec} (RMW_DURATION_INFINITE = {sec: 9223372036, nsec: 854775807}); `ros2 bag play`
  offers these again. An empty list where the publishers are not known (a writer without ROS);
- `topic_type_hash` beside it (RIHS01_..., where the recorder knows it);
- a Metadata record named `rosbag2` with `serialized_metadata` (the bag's metadata.yaml content,
  rosbag2_storage/yaml.hpp convert<BagMetadata>, version ROSBAG2_VERSION: its readers decode the
  QoS enums by that version) and `ROS_DISTRO` (the key the Humble/Iron plugins write), once when
  the file opens (so a torn file still has it) and once, with the counts and times, at close
  (rosbag2 takes the last).

Time base: a message's log_time and publish_time are both the time the caller gives, one number
(rosbag2 up to Iron wrote its receive time as both; later ones put the DDS source timestamp, the
publisher's wall clock even under sim time, in publish_time: a second base, not copied here), and
for the ROS recorder (ros/nodes/recorder.py) that is its ROS clock at receipt: sim time where the graph runs on sim time (mujoco lockstep, gazebo:
the driver stamps with sim time, and /clock drives the recorder's clock), wall time otherwise
(twin and hardware in real time: the driver stamps with the ROS wall clock). Log times and header
stamps then agree, on a lockstep run within a control period. A sim-time recording starts near
0 s (1970 as a date), as rosbag2's own does under use_sim_time; the `rosbag2` record's custom_data
says which base a recording uses (time_base: sim | wall).

The writer takes already-serialized CDR bytes (the ROS node serializes with rclpy), so this core
needs no ROS.

Crash safety, the contract of McapRecorder:
- every message is on disk (in the OS's hands) at most FLUSH_S seconds after `write()`: the
  chunk in progress is closed and the file flushed (mcap's `Writer.flush()`), so a writer killed
  with SIGKILL loses at most the last FLUSH_S seconds, and the file up to there is whole records
  that `sim2real data recover` turns into a file every MCAP reader opens;
- `close()` writes the summary and footer; it may race `write()` from other threads, and nothing
  is written after it (later writes are counted in `dropped`);
- one writer thread owns the file. `write()`/`add_topic()` only queue, so an exception raised in
  the caller's thread by a signal (Ctrl-C or SIGTERM as KeyboardInterrupt) can never leave half a
  record in the file, and an interrupted `close()` still ends with the footer: the thread is not a
  daemon, the interpreter waits for it. A recorder nobody closes is finished when the main thread
  ends.

`read_messages` reads a file without its summary (killed writer) through data/recover.py's scan.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import yaml
from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer
from mcap_ros2.decoder import DecoderFactory

from sim2real.data.msgdefs import schema_text
from sim2real.errors import ConfigError, Sim2RealError

FLUSH_S = 0.2   # s: the most a killed recording loses
_TOPIC, _MSG, _SYNC, _CLOSE = range(4)

# rosbag2's metadata version whose QoS policies are strings (rosbag2_storage qos.cpp: `version < 9`
# writes integers); the plugin's reader takes the version from the `rosbag2` record's
# serialized_metadata and, without one, reads the channels' QoS as version 8 (integers)
ROSBAG2_VERSION = 9
INFINITE_NS = 9_223_372_036_854_775_807     # RMW_DURATION_INFINITE, as rclpy reports it
_QOS_POLICIES = ("history", "reliability", "durability", "liveliness")


def _duration(ns: int) -> dict[str, int]:
    """rosbag2's rmw_time_t: {sec, nsec}; 'infinite' (rclpy's Duration.Infinite) is RMW_DURATION_INFINITE."""
    ns = min(int(ns), INFINITE_NS)
    return {"sec": ns // 1_000_000_000, "nsec": ns % 1_000_000_000}


def rosbag2_qos(history: str, depth: int, reliability: str, durability: str, deadline_ns: int = INFINITE_NS,
                lifespan_ns: int = INFINITE_NS, liveliness: str = "automatic",
                liveliness_lease_duration_ns: int = INFINITE_NS,
                avoid_ros_namespace_conventions: bool = False) -> dict:
    """One offered QoS profile as rosbag2 writes it (qos.cpp convert<Rosbag2QoS>::encode, in its
    field order): policies as rmw's lowercase names ('keep_last', 'best_effort', 'transient_local',
    'automatic', 'unknown' ...), durations in ns."""
    return {"history": history, "depth": int(depth), "reliability": reliability, "durability": durability,
            "deadline": _duration(deadline_ns), "lifespan": _duration(lifespan_ns), "liveliness": liveliness,
            "liveliness_lease_duration": _duration(liveliness_lease_duration_ns),
            "avoid_ros_namespace_conventions": bool(avoid_ros_namespace_conventions)}


def qos_yaml(profiles: list[dict] | None) -> str:
    """The `offered_qos_profiles` string: a YAML list of rosbag2_qos() dicts ('[]' when unknown)."""
    profiles = list(profiles or [])
    for p in profiles:
        bad = [k for k in _QOS_POLICIES if not isinstance(p.get(k), str)]
        if bad:
            raise ValueError(f"offered QoS: {', '.join(bad)} must be rmw's policy names (rosbag2_qos())")
    return yaml.safe_dump(profiles, sort_keys=False, default_flow_style=False) if profiles else "[]"


def ros_distro() -> str:
    """What rosbag2 records as ROS_DISTRO: the environment's (rosbag2_storage get_ros_distro)."""
    return os.environ.get("ROS_DISTRO", "")


class McapRecorder:
    def __init__(self, path: str | Path, chunk_size: int = 256 * 1024, overwrite: bool = True,
                 flush_s: float = FLUSH_S, custom_data: dict[str, str] | None = None):
        """overwrite=False refuses an existing file (ConfigError) instead of replacing it.
        custom_data goes into the `rosbag2` record (rosbag2's custom_data: strings to strings)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._f = open(self.path, "wb" if overwrite else "xb")
        except FileExistsError:
            raise ConfigError(f"{self.path}: exists; pass --force to overwrite it") from None
        except OSError as e:
            raise ConfigError(f"{self.path}: cannot create ({e.strerror})") from None
        self._w = Writer(self._f, chunk_size=chunk_size, compression=CompressionType.ZSTD)
        self._w.start(profile="ros2", library="sim2real")
        self.custom_data = {str(k): str(v) for k, v in (custom_data or {}).items()}
        self._topic_meta: dict[int, tuple[str, str, str, str]] = {}   # channel -> topic, type, qos, hash
        self._written: dict[int, int] = {}                           # channel -> messages in the file
        self._t_first: int | None = None                             # log times in the file, ns
        self._t_last: int | None = None
        self._w.add_metadata("rosbag2", self._rosbag2_record())
        self._w.flush()
        self.flush_s = flush_s
        self.count = 0            # messages accepted
        self.dropped = 0          # messages offered after close (or after a write error)
        self.error: str | None = None   # why the writer thread stopped early
        self._topics: list[str] = []                  # our channel id - 1 -> topic
        self._per_channel: list[int] = []
        self._lock = threading.Lock()
        self._closed = False
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mcap-writer:{self.path.name}")
        self._thread.start()

    # -- the callers' side: queue only ------------------------------------------------------
    def add_topic(self, topic: str, type_name: str, offered_qos_profiles: list[dict] | None = None,
                  type_hash: str = "") -> int:
        """Register a topic of type 'pkg/msg/Type'; returns its channel id. offered_qos_profiles:
        its publishers' QoS (rosbag2_qos() dicts), written as the channel's `offered_qos_profiles`;
        type_hash: the type's RIHS01 hash (rosbag2's `topic_type_hash`)."""
        qos = qos_yaml(offered_qos_profiles)           # a malformed profile fails here, in the caller
        with self._lock:
            if topic in self._topics:
                return self._topics.index(topic) + 1
            schema = schema_text(type_name).encode()   # an unknown type fails here, in the caller
            if self._closed:
                raise Sim2RealError(f"{self.path}: recording closed")
            self._topics.append(topic)
            self._per_channel.append(0)
            cid = len(self._topics)
            self._q.put((_TOPIC, cid, topic, type_name, schema, qos, str(type_hash or "")))
            return cid

    def write(self, channel_id: int, cdr: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> bool:
        """Queue one message; False (and counted in `dropped`) once the recording is closed."""
        with self._lock:
            if self._closed or self.error:
                self.dropped += 1
                return False
            self._q.put((_MSG, channel_id, cdr, log_time_ns, log_time_ns if publish_time_ns is None else publish_time_ns))
            self.count += 1
            self._per_channel[channel_id - 1] += 1
            return True

    @property
    def counts(self) -> dict[str, int]:
        """Messages accepted per registered topic (0 for a topic that never got one)."""
        with self._lock:
            return dict(zip(self._topics, self._per_channel))

    def sync(self, timeout: float | None = 10.0) -> None:
        """Block until everything written so far is in the file (chunk closed, flushed)."""
        done = threading.Event()
        with self._lock:
            if self._closed:
                return
            self._q.put((_SYNC, done))
        done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued, the summary and the footer; idempotent, safe from any thread."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._q.put((_CLOSE,))
        # not Thread.join(): in CPython 3.11 a signal interrupting join() marks the thread stopped
        # (bpo-45274's handling), and the interpreter then exits without waiting for the footer
        if threading.current_thread() is not self._thread:
            self._finished.wait(timeout)
        if self.error:
            raise Sim2RealError(f"{self.path}: recording failed ({self.error})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the writer thread: the only code that touches the file ----------------------------
    def _run(self) -> None:
        self._schema_ids: dict[str, int] = {}
        self._channel_ids: dict[int, int] = {}   # our channel id -> the Writer's
        pending_since = None                      # monotonic time of the oldest unflushed message
        main = threading.main_thread()
        try:
            while True:
                wait = 0.1 if pending_since is None else max(0.0, pending_since + self.flush_s - time.monotonic())
                try:
                    item = self._q.get(timeout=wait)
                except queue.Empty:
                    item = None
                    if not main.is_alive():    # the program ended without close(): finish the file
                        with self._lock:
                            self._closed = True
                        item = (_CLOSE,)
                if item is not None and item[0] == _CLOSE:
                    while True:                # the lock is closed: nothing new arrives
                        try:
                            self._apply(self._q.get_nowait())
                        except queue.Empty:
                            break
                    break
                if item is not None:
                    if self._apply(item):
                        pending_since = pending_since or time.monotonic()
                    elif item[0] == _SYNC:
                        pending_since = None
                if pending_since is not None and time.monotonic() - pending_since >= self.flush_s:
                    self._w.flush()            # closes the chunk in progress, flushes the stream
                    pending_since = None
            self._w.flush()
            self._w.add_metadata("rosbag2", self._rosbag2_record())   # the counts and times: rosbag2 reads the last
            self._w.finish()
            self._f.flush()
            os.fsync(self._f.fileno())
        except Exception as e:  # noqa: BLE001 - a full disk, say: stop and say why at close()
            self.error = f"{type(e).__name__}: {e}"
            with self._lock:
                self._closed = True
        finally:
            self._f.close()
            self._finished.set()
            while True:                        # release anyone waiting on a sync
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
                if item[0] == _SYNC:
                    item[1].set()

    def _apply(self, item) -> bool:
        """One queued item into the Writer; True when it added a message."""
        if item[0] == _MSG:
            _, cid, data, log, pub = item
            self._w.add_message(channel_id=self._channel_ids[cid], log_time=log, data=data, publish_time=pub)
            self._written[cid] += 1
            self._t_first = log if self._t_first is None else min(self._t_first, log)
            self._t_last = log if self._t_last is None else max(self._t_last, log)
            return True
        if item[0] == _TOPIC:
            _, cid, topic, type_name, schema, qos, type_hash = item
            if type_name not in self._schema_ids:
                self._schema_ids[type_name] = self._w.register_schema(name=type_name, encoding="ros2msg", data=schema)
            # what rosbag2_storage_mcap's create_topic puts on a channel
            self._channel_ids[cid] = self._w.register_channel(
                topic=topic, message_encoding="cdr", schema_id=self._schema_ids[type_name],
                metadata={"offered_qos_profiles": qos, "topic_type_hash": type_hash})
            self._topic_meta[cid] = (topic, type_name, qos, type_hash)
            self._written[cid] = 0
        elif item[0] == _SYNC:
            self._w.flush()
            item[1].set()
        return False

    def _rosbag2_record(self) -> dict[str, str]:
        """The `rosbag2` Metadata record: rosbag2_storage_mcap's update_metadata writes
        {serialized_metadata: YAML of the BagMetadata (rosbag2_storage/yaml.hpp)}; the Humble/Iron
        plugins wrote {ROS_DISTRO}. Both, so either reader finds what it looks for."""
        start = self._t_first or 0
        duration = (self._t_last - self._t_first) if self._t_first is not None else 0
        count = sum(self._written.values())
        topics = [{"topic_metadata": {"name": topic, "type": type_name, "serialization_format": "cdr",
                                      "offered_qos_profiles": yaml.safe_load(qos) or [],
                                      "type_description_hash": type_hash},
                   "message_count": self._written[cid]}
                  for cid, (topic, type_name, qos, type_hash) in self._topic_meta.items()]
        meta = {"version": ROSBAG2_VERSION, "storage_identifier": "mcap",
                "duration": {"nanoseconds": duration}, "starting_time": {"nanoseconds_since_epoch": start},
                "message_count": count, "topics_with_message_count": topics,
                "compression_format": "", "compression_mode": "",
                "relative_file_paths": [self.path.name],
                "files": [{"path": self.path.name, "starting_time": {"nanoseconds_since_epoch": start},
                           "duration": {"nanoseconds": duration}, "message_count": count}],
                "custom_data": dict(self.custom_data), "ros_distro": ros_distro()}
        return {"serialized_metadata": yaml.safe_dump(meta, sort_keys=False, default_flow_style=False),
                "ROS_DISTRO": ros_distro()}


def read_messages(path: str | Path, topics: list[str] | None = None) -> Iterator[tuple[str, object, int]]:
    """(topic, decoded message, log_time_ns) in log-time order; a file without its summary (a
    killed writer) is read record by record up to its last whole chunk, in file order."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such recording")
    with open(path, "rb") as f:
        try:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            summary = reader.get_summary()
        except Exception:  # noqa: BLE001 - no readable footer/summary: read it as a torn file
            summary = None
        if summary is not None:
            for _, channel, message, decoded in reader.iter_decoded_messages(topics=topics, log_time_order=True):
                yield channel.topic, decoded, message.log_time
            return
    yield from _read_torn(path, set(topics) if topics else None)


def _read_torn(path: Path, wanted) -> Iterator[tuple[str, object, int]]:
    from sim2real.data.recover import scan
    factory, decoders = DecoderFactory(), {}
    for schema, channel, message in scan(path).messages():
        if wanted and channel.topic not in wanted:
            continue
        if channel.id not in decoders:
            decoders[channel.id] = factory.decoder_for(channel.message_encoding, schema)
        if decoders[channel.id] is None:
            continue
        yield channel.topic, decoders[channel.id](message.data), message.log_time


def load_joint_states(path: str | Path, topic: str = "/joint_states") -> dict[str, np.ndarray | list]:
    """A recording's joint states as arrays: t (T,) s from the header stamps, q/qd/effort (T, n)."""
    t, q, qd, eff, names = [], [], [], [], None
    for _, msg, _ in read_messages(path, [topic]):
        names = names or list(msg.name)
        t.append(msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec)
        q.append(list(msg.position))
        qd.append(list(msg.velocity) or [np.nan] * len(msg.position))
        eff.append(list(msg.effort) or [np.nan] * len(msg.position))
    return {"names": names or [], "t": np.array(t), "q": np.array(q), "qd": np.array(qd), "effort": np.array(eff)}


def load_states_and_commands(path: str | Path, joint_names, state_topic: str = "/joint_states",
                             command_topic: str = "/effort_controller/commands") -> dict[str, np.ndarray]:
    """A control loop's recording in the robot's joint order: states (log time ns, header stamp
    s, q, qd, effort; NaN where a field is missing) and commands of the right size (log time ns,
    values). The command answering a state is the one logged after it (np.searchsorted on the
    log times). ConfigError when the states lack a joint."""
    names, n = list(joint_names), len(joint_names)
    st_log, stamps, q, qd, eff, cmd_log, cmds = [], [], [], [], [], [], []
    idx = None
    for topic, msg, log_ns in read_messages(path, [state_topic, command_topic]):
        if topic == state_topic:
            if idx is None:
                try:
                    idx = [list(msg.name).index(j) for j in names]
                except ValueError:
                    raise ConfigError(f"{path}: {state_topic} lacks some of the joints {names}") from None
            m = len(msg.name)
            st_log.append(log_ns)
            stamps.append(msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec)
            for field, out in ((msg.position, q), (msg.velocity, qd), (msg.effort, eff)):
                v = np.asarray(field, float)
                out.append(v[idx] if v.size == m else np.full(n, np.nan))
        elif len(msg.data) == n:
            cmd_log.append(log_ns)
            cmds.append(np.asarray(msg.data, float))
    return {"state_log": np.array(st_log, np.int64), "stamp": np.array(stamps), "q": np.array(q).reshape(-1, n),
            "qd": np.array(qd).reshape(-1, n), "effort": np.array(eff).reshape(-1, n),
            "command_log": np.array(cmd_log, np.int64), "command": np.array(cmds).reshape(-1, n)}
