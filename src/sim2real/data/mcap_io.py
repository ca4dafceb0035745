"""MCAP recording in the rosbag2 layout (profile `ros2`, schemas `ros2msg`, messages CDR), and
the reader training code uses.

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
from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer
from mcap_ros2.decoder import DecoderFactory

from sim2real.data.msgdefs import schema_text
from sim2real.errors import ConfigError, Sim2RealError

FLUSH_S = 0.2   # s: the most a killed recording loses
_TOPIC, _MSG, _SYNC, _CLOSE = range(4)


class McapRecorder:
    def __init__(self, path: str | Path, chunk_size: int = 256 * 1024, overwrite: bool = True,
                 flush_s: float = FLUSH_S):
        """overwrite=False refuses an existing file (ConfigError) instead of replacing it."""
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
    def add_topic(self, topic: str, type_name: str) -> int:
        """Register a topic of type 'pkg/msg/Type'; returns its channel id."""
        with self._lock:
            if topic in self._topics:
                return self._topics.index(topic) + 1
            schema = schema_text(type_name).encode()   # an unknown type fails here, in the caller
            if self._closed:
                raise Sim2RealError(f"{self.path}: recording closed")
            self._topics.append(topic)
            self._per_channel.append(0)
            cid = len(self._topics)
            self._q.put((_TOPIC, cid, topic, type_name, schema))
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
            return True
        if item[0] == _TOPIC:
            _, cid, topic, type_name, schema = item
            if type_name not in self._schema_ids:
                self._schema_ids[type_name] = self._w.register_schema(name=type_name, encoding="ros2msg", data=schema)
            self._channel_ids[cid] = self._w.register_channel(topic=topic, message_encoding="cdr",
                                                              schema_id=self._schema_ids[type_name])
        elif item[0] == _SYNC:
            self._w.flush()
            item[1].set()
        return False


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
