"""Torn MCAP files: read what a killed writer left, and rewrite it as a complete file.

A writer killed mid-recording leaves the data section without its summary and footer, and
usually a last record cut short. mcap's indexed reader and mcap_ros2 start from the footer, so
they refuse such a file (RecordLengthLimitExceeded: they read garbage where the footer should be).
`scan` walks the data section record by record and stops at the first record that is cut, fails
its CRC or does not parse; everything before it is whole. `recover` writes those records into a
new file with mcap's Writer, which adds the summary, indexes and footer.

The MCAP layout (https://mcap.dev/spec): magic (8 bytes), then records `opcode (u8), length
(u64 LE), body (length bytes)`: Header, then Schema / Channel / Message / Chunk (compressed
Schema, Channel and Message records) / Metadata / Attachment and their indexes, then DataEnd,
the summary section, the Footer and the magic again.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Iterator

from mcap.data_stream import ReadDataStream
from mcap.opcode import Opcode
from mcap.records import Attachment, Channel, Chunk, Header, Message, Metadata, Schema
from mcap.stream_reader import breakup_chunk
from mcap.writer import CompressionType, Writer

from sim2real.errors import ConfigError

MAGIC = bytes([137, 77, 67, 65, 80, 48, 13, 10])
_KNOWN = {int(o) for o in Opcode}


@dataclass
class Scan:
    """One pass over a file's data section. Iterate `records()` (or `messages()`) once; after it,
    `offset` is where the whole records end and `problem` says why the scan stopped there
    ("" when the data section ended properly with its DataEnd record)."""
    path: Path
    size: int = 0
    offset: int = 0
    problem: str = ""
    header: Header | None = None

    def records(self) -> Iterator[object]:
        """Header, Schema, Channel, Message, Metadata and Attachment records in file order (the
        records inside chunks unpacked); indexes are skipped, they are rebuilt on writing."""
        self.size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            if f.read(8) != MAGIC:
                raise ConfigError(f"{self.path}: not an MCAP file (no magic at the start)")
            self.offset = 8
            while True:
                head = f.read(9)
                if not head:
                    self.problem = "the file ends without its summary and footer"
                    return
                if len(head) < 9:
                    self.problem = f"a record header cut at byte {self.offset}"
                    return
                opcode, length = struct.unpack("<BQ", head)
                left = self.size - self.offset - 9
                if opcode == 0 or (opcode < 0x80 and opcode not in _KNOWN):
                    self.problem = f"no valid record at byte {self.offset} (opcode {opcode:#x})"
                    return
                if length > left:
                    self.problem = (f"the record at byte {self.offset} is cut "
                                    f"({length} bytes declared, {left} written)")
                    return
                body = f.read(length)
                try:
                    out = _parse(opcode, body)
                except Exception as e:  # noqa: BLE001 - any failure to parse means: torn or corrupt here
                    self.problem = f"unreadable {_name(opcode)} record at byte {self.offset} ({type(e).__name__}: {e})"
                    return
                if opcode in (Opcode.DATA_END, Opcode.FOOTER):
                    self.problem = ""
                    return
                self.offset += 9 + length
                for rec in out:
                    if isinstance(rec, Header):
                        self.header = rec
                    yield rec

    def messages(self) -> Iterator[tuple[Schema | None, Channel, Message]]:
        """(schema, channel, message) for each message whose channel is known."""
        schemas, channels = {}, {}
        for rec in self.records():
            if isinstance(rec, Schema):
                schemas[rec.id] = rec
            elif isinstance(rec, Channel):
                channels[rec.id] = rec
            elif isinstance(rec, Message) and rec.channel_id in channels:
                ch = channels[rec.channel_id]
                yield schemas.get(ch.schema_id), ch, rec


def scan(path: str | Path) -> Scan:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    return Scan(path)


def _name(opcode: int) -> str:
    try:
        return Opcode(opcode).name.lower()
    except ValueError:
        return f"opcode {opcode:#x}"


def _parse(opcode: int, body: bytes) -> list:
    """The records a top-level record holds (a chunk: its inner records, CRC checked)."""
    s = ReadDataStream(BytesIO(body))
    if opcode == Opcode.CHUNK:
        return breakup_chunk(Chunk.read(s), validate_crc=True)
    if opcode == Opcode.MESSAGE:
        return [Message.read(s, len(body))]
    reader = {Opcode.HEADER: Header.read, Opcode.SCHEMA: Schema.read, Opcode.CHANNEL: Channel.read,
              Opcode.METADATA: Metadata.read, Opcode.ATTACHMENT: Attachment.read}.get(opcode)
    return [reader(s)] if reader else []


@dataclass
class Recovery:
    """What `recover` kept. Times are the messages' log times, ns."""
    source: Path
    output: Path
    messages: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    start_ns: int | None = None
    end_ns: int | None = None
    kept_bytes: int = 0            # of the source: whole records up to here
    size: int = 0                  # of the source
    problem: str = ""              # why the scan stopped early ("" if the data section was whole)
    orphans: int = 0               # messages on a channel never declared (dropped)

    def lines(self) -> list[str]:
        out = [f"{self.source}: " + (f"{self.problem}; kept the first {self.kept_bytes} of {self.size} bytes"
                                     if self.problem else "data section complete (nothing was torn)")]
        if self.messages:
            span = (self.end_ns - self.start_ns) * 1e-9
            topics = ", ".join(f"{t} {n}" for t, n in self.per_topic.items())
            out.append(f"recovered {self.messages} messages ({topics}) spanning {span:.3f} s of log time "
                       f"({_when(self.start_ns)} .. {_when(self.end_ns)})")
        else:
            out.append("recovered 0 messages")
        if self.orphans:
            out.append(f"dropped {self.orphans} messages on undeclared channels")
        out.append(f"-> {self.output}")
        return out


def _when(ns: int) -> str:
    """A log time: wall-clock stamps (after 2001) as UTC, sim time as seconds."""
    if ns > 10 ** 18:
        import datetime
        t = datetime.datetime.fromtimestamp(ns * 1e-9, datetime.timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return f"{ns * 1e-9:.3f} s"


def default_output(path: str | Path) -> Path:
    """run.mcap -> run.recovered.mcap"""
    path = Path(path)
    return path.with_name(f"{path.stem}.recovered{path.suffix or '.mcap'}")


def recover(path: str | Path, out: str | Path | None = None, overwrite: bool = False) -> Recovery:
    """Rewrite the whole records of `path` as a complete MCAP file `out` (written beside, then
    renamed into place, so `out` may be `path` itself)."""
    s = scan(path)
    out = Path(out) if out else default_output(path)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out}: exists; pass --force to overwrite it")
    part = out.with_name(out.name + ".part")
    rep = Recovery(Path(path), out)
    schema_ids, channel_ids, topics = {0: 0}, {}, {}
    with open(part, "wb") as f:
        w, started = Writer(f, compression=CompressionType.ZSTD), False
        try:
            for rec in s.records():
                if isinstance(rec, Header):
                    if not started:
                        w.start(profile=rec.profile, library=rec.library or "sim2real")
                        started = True
                    continue
                if not started:   # a file whose first record is not its header
                    w.start(profile="", library="sim2real recover")
                    started = True
                if isinstance(rec, Schema) and rec.id not in schema_ids:
                    schema_ids[rec.id] = w.register_schema(rec.name, rec.encoding, rec.data)
                elif isinstance(rec, Channel) and rec.id not in channel_ids and rec.schema_id in schema_ids:
                    channel_ids[rec.id] = w.register_channel(rec.topic, rec.message_encoding,
                                                             schema_ids[rec.schema_id], rec.metadata)
                    topics[rec.id] = rec.topic
                elif isinstance(rec, Message):
                    if rec.channel_id not in channel_ids:
                        rep.orphans += 1
                        continue
                    w.add_message(channel_ids[rec.channel_id], rec.log_time, rec.data, rec.publish_time, rec.sequence)
                    topic = topics[rec.channel_id]
                    rep.per_topic[topic] = rep.per_topic.get(topic, 0) + 1
                    rep.messages += 1
                    rep.start_ns = rec.log_time if rep.start_ns is None else min(rep.start_ns, rec.log_time)
                    rep.end_ns = rec.log_time if rep.end_ns is None else max(rep.end_ns, rec.log_time)
                elif isinstance(rec, Metadata):
                    w.add_metadata(rec.name, rec.metadata)
                elif isinstance(rec, Attachment):
                    w.add_attachment(rec.create_time, rec.log_time, rec.name, rec.media_type, rec.data)
            if not started:
                w.start(profile="", library="sim2real recover")
            w.finish()
        except BaseException:
            f.close()
            part.unlink(missing_ok=True)
            raise
    os.replace(part, out)
    rep.kept_bytes, rep.size, rep.problem = s.offset, s.size, s.problem
    return rep
