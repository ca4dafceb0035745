"""MCAP recording in the rosbag2 layout (profile `ros2`, schemas `ros2msg`, messages CDR), and
the reader training code uses.

The writer takes already-serialized CDR bytes (the ROS node serializes with rclpy), so this core
needs no ROS. The file is flushed to the OS at least every FLUSH_S seconds, so a killed recording
stays readable up to its last complete chunk; `read_messages` falls back to a streaming read for a
file without its summary.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer
from mcap_ros2.decoder import DecoderFactory

from sim2real.data.msgdefs import schema_text

FLUSH_S = 0.5


class McapRecorder:
    def __init__(self, path: str | Path, chunk_size: int = 256 * 1024):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "wb")
        self._w = Writer(self._f, chunk_size=chunk_size, compression=CompressionType.ZSTD)
        self._w.start(profile="ros2", library="sim2real")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.count = 0
        self._flushed = time.monotonic()

    def add_topic(self, topic: str, type_name: str) -> int:
        """Register a topic of type 'pkg/msg/Type'; returns its channel id."""
        if topic in self._channels:
            return self._channels[topic]
        if type_name not in self._schemas:
            self._schemas[type_name] = self._w.register_schema(
                name=type_name, encoding="ros2msg", data=schema_text(type_name).encode())
        cid = self._w.register_channel(topic=topic, message_encoding="cdr", schema_id=self._schemas[type_name])
        self._channels[topic] = cid
        return cid

    def write(self, channel_id: int, cdr: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        self._w.add_message(channel_id=channel_id, log_time=log_time_ns, data=cdr,
                            publish_time=log_time_ns if publish_time_ns is None else publish_time_ns)
        self.count += 1
        now = time.monotonic()
        if now - self._flushed > FLUSH_S:
            self._f.flush()
            self._flushed = now

    def close(self) -> None:
        if self._f.closed:
            return
        self._w.finish()
        self._f.close()


def read_messages(path: str | Path, topics: list[str] | None = None) -> Iterator[tuple[str, object, int]]:
    """(topic, decoded message, log_time_ns) in log-time order; tolerates a truncated file."""
    wanted = set(topics) if topics else None
    with open(path, "rb") as f:
        try:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            if reader.get_summary() is None:
                raise McapError("no summary")
            for _, channel, message, decoded in reader.iter_decoded_messages(topics=topics, log_time_order=True):
                yield channel.topic, decoded, message.log_time
            return
        except (McapError, ValueError, EOFError, AssertionError):
            f.seek(0)
    yield from _read_streaming(path, wanted)


def _read_streaming(path, wanted) -> Iterator[tuple[str, object, int]]:
    """Record-by-record read that stops cleanly at the first incomplete record."""
    from mcap.records import Channel, Message, Schema
    factory = DecoderFactory()
    schemas, channels, decoders = {}, {}, {}
    with open(path, "rb") as f:
        reader = StreamReader(f, skip_magic=False)
        try:
            for rec in reader.records:
                if isinstance(rec, Schema):
                    schemas[rec.id] = rec
                elif isinstance(rec, Channel):
                    channels[rec.id] = rec
                elif isinstance(rec, Message):
                    ch = channels.get(rec.channel_id)
                    if ch is None or (wanted and ch.topic not in wanted):
                        continue
                    if ch.id not in decoders:
                        decoders[ch.id] = factory.decoder_for(ch.message_encoding, schemas[ch.schema_id])
                    yield ch.topic, decoders[ch.id](rec.data), rec.log_time
        except Exception:  # noqa: BLE001 - any parse error in the tail means: truncated there
            return   # everything before it has been yielded


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
