"""Crash-safe recordings: a torn file is recovered into one every MCAP reader opens, a killed
writer loses at most the flush interval, and a signal during close() still leaves the footer."""
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.reader import read_ros2_messages

from sim2real.data import cdr
from sim2real.data.mcap_io import FLUSH_S, McapRecorder, read_messages
from sim2real.data.recover import recover, scan
from sim2real.errors import ConfigError

NAMES = [f"joint_{i}" for i in range(1, 8)]


def state(k: int) -> bytes:
    return cdr.joint_state(k * 0.002, NAMES, np.full(7, float(k)), np.zeros(7), np.zeros(7))


def indexed_positions(path) -> list[float]:
    """Read as the strict readers do: from the footer and summary (mcap's indexed reader), and
    through mcap_ros2; both must agree."""
    with open(path, "rb") as f:
        reader = make_reader(f)
        assert reader.get_summary() is not None
        n_indexed = sum(1 for _ in reader.iter_messages())
    ros = [m.ros_msg.position[0] for m in read_ros2_messages(str(path))]
    assert len(ros) == n_indexed
    return ros


def test_cut_anywhere_recovers_every_whole_chunk(tmp_path):
    """Cut the file at many byte offsets, as a kill leaves it: the recovered file has exactly the
    messages of the chunks that were whole before the cut, in order, and opens in every reader."""
    src = tmp_path / "rec.mcap"
    rec = McapRecorder(src, chunk_size=10 ** 9)     # chunks end only where we sync (the flush)
    cid = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    for k in range(1000):
        rec.write(cid, state(k), k * 2_000_000)
        if k % 100 == 99:
            rec.sync()
    rec.close()
    data = src.read_bytes()
    with open(src, "rb") as f:
        chunks = make_reader(f).get_summary().chunk_indexes
    assert len(chunks) == 10                        # 100 messages each
    ends = [c.chunk_start_offset + c.chunk_length for c in chunks]
    rng = np.random.default_rng(0)
    cuts = sorted({9, 30, *ends, *[e - 1 for e in ends], *[e + 40 for e in ends], *rng.integers(40, len(data), 25)})
    for cut in cuts:
        torn = tmp_path / "torn.mcap"
        torn.write_bytes(data[:cut])
        with pytest.raises(Exception):
            list(read_ros2_messages(str(torn)))     # what users met: no footer, no read
        rep = recover(torn, tmp_path / "out.mcap", overwrite=True)
        expect = 100 * sum(e <= cut for e in ends)
        assert rep.messages == expect, cut
        assert indexed_positions(rep.output) == [float(k) for k in range(expect)]
        assert len(list(read_messages(torn))) == expect      # the project's reader agrees


def test_copy_mid_write_loses_at_most_the_flush_interval(tmp_path):
    """What the disk holds while a recording runs (a copy taken mid-write is what kill -9
    leaves): every message logged more than FLUSH_S before the copy is in it."""
    src = tmp_path / "live.mcap"
    rec = McapRecorder(src)
    cid = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    copies, k, start = [], 0, time.monotonic()
    while time.monotonic() - start < 1.6:
        now = time.monotonic_ns()
        rec.write(cid, state(k), now)
        k += 1
        if len(copies) < 3 and time.monotonic() - start > 0.5 + 0.4 * len(copies):
            dst = tmp_path / f"copy{len(copies)}.mcap"
            shutil.copyfile(src, dst)
            copies.append((dst, time.monotonic_ns()))
        time.sleep(0.001)
    rec.close()
    for dst, t_copy in copies:
        rep = recover(dst, overwrite=True)
        pos = indexed_positions(rep.output)
        assert pos == [float(i) for i in range(len(pos))]         # a gap-free prefix
        lost_s = (t_copy - rep.end_ns) * 1e-9
        assert lost_s < FLUSH_S + 0.15, f"lost {lost_s:.3f} s"     # slack: a loaded 2-core machine


WRITER = textwrap.dedent("""
    import signal, sys, time, numpy as np
    from sim2real.data.mcap_io import McapRecorder
    from sim2real.data import cdr
    names = [f"joint_{i}" for i in range(1, 8)]
    msgs = [cdr.joint_state(0.0, names, np.full(7, float(k)), np.zeros(7), np.zeros(7)) for k in range(20)]
    def interrupt(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGALRM, interrupt)
    rec = McapRecorder(sys.argv[1])
    cid = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    mode = sys.argv[2]
    k = 0
    if mode == "kill":
        print("ready", flush=True)
        while True:
            rec.write(cid, msgs[k % 20], time.time_ns())
            k += 1
            time.sleep(0.0005)
    for k in range(30000):      # a large last chunk: close() has work to do
        rec.write(cid, msgs[k % 20], k)
    signal.setitimer(signal.ITIMER_REAL, 0.0003)   # Ctrl-C / SIGTERM lands inside close()
    try:
        rec.close()
    except KeyboardInterrupt:
        print("interrupted inside close", flush=True)
""")


def test_kill9_then_recover(tmp_path):
    path = tmp_path / "killed.mcap"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "kill"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t_kill = time.time_ns()
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "data", "recover", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "killed.recovered.mcap"
    assert "recovered" in r.stdout and str(out) in r.stdout
    n = len(indexed_positions(out))
    with open(out, "rb") as f:
        end = make_reader(f).get_summary().statistics.message_end_time
    assert n > 500 and (t_kill - end) * 1e-9 < FLUSH_S + 0.15
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "data", "recover", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--force" in r.stderr            # never overwrites silently


def test_signal_inside_close_still_writes_the_footer(tmp_path):
    """A second Ctrl-C / SIGTERM while close() finishes the file (the old writer then left no
    footer: mcap_ros2 failed with RecordLengthLimitExceeded)."""
    for i in range(3):
        path = tmp_path / f"closed{i}.mcap"
        r = subprocess.run([sys.executable, "-c", WRITER, str(path), "close"], capture_output=True,
                           text=True, timeout=60)
        assert "Traceback" not in r.stderr, r.stderr
        assert len(indexed_positions(path)) == 30000


def test_close_races_writes_from_other_threads(tmp_path):
    import threading
    rec = McapRecorder(tmp_path / "race.mcap", chunk_size=4096)
    cid = rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    msg = state(1)
    accepted = [0, 0]

    def writer(j):
        while rec.write(cid, msg, 0):
            accepted[j] += 1
    threads = [threading.Thread(target=writer, args=(j,)) for j in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    rec.close()
    for t in threads:
        t.join(timeout=5)
    assert len(indexed_positions(rec.path)) == sum(accepted) == rec.count and rec.dropped == 2
    assert not rec.write(cid, msg, 0) and rec.dropped == 3            # nothing after close


def test_not_an_mcap_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.mcap"
    bad.write_text("hello")
    with pytest.raises(ConfigError, match="not an MCAP file"):
        list(scan(bad).records())
    with pytest.raises(ConfigError, match="no such file"):
        recover(tmp_path / "missing.mcap")


def test_recorder_refuses_to_overwrite(tmp_path):
    p = tmp_path / "a.mcap"
    p.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="--force"):
        McapRecorder(p, overwrite=False)
    assert p.read_bytes() == b"precious"


def test_recover_of_a_file_without_messages_exits_1(tmp_path):
    """A file holding no message (a recorder stopped before anything arrived) recovers to an
    empty file: the command says so and exits 1, so a script does not take it for data."""
    path = tmp_path / "empty.mcap"
    rec = McapRecorder(path)
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    rec.close()
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "data", "recover", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "recovered 0 messages" in r.stdout and "no message" in r.stderr
