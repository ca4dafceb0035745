"""The pose the real-time driver hands its camera process: a seqlock in shared memory."""
import threading

import numpy as np

from sim2real.ros.camera_process import PoseShare


def test_nothing_to_read_before_the_first_write_then_the_last_pose():
    s = PoseShare.create(nq=9, nmocap=1)
    q, m = np.zeros(9), np.zeros((1, 3))
    assert s.read(q, m) is None
    s.write(np.arange(9.0), np.array([[1.0, 2.0, 3.0]]), 12.5)
    s.write(np.arange(9.0) + 1, np.array([[4.0, 5.0, 6.0]]), 13.0)
    seq, stamp = s.read(q, m)
    assert stamp == 13.0 and seq == 4.0
    np.testing.assert_array_equal(q, np.arange(9.0) + 1)
    np.testing.assert_array_equal(m, [[4.0, 5.0, 6.0]])
    assert not s.stop
    s.request_stop()
    assert s.stop
    s.close()
    s.write(q, m, 1.0)      # after close (the driver going down): ignored, not a crash


def test_a_reader_never_sees_a_half_written_pose():
    """Every pose written is one value throughout; a torn copy would mix two."""
    s = PoseShare.create(nq=400, nmocap=2)
    done = threading.Event()

    def writer():
        k = 0.0
        while not done.is_set():
            k += 1
            s.write(np.full(400, k), np.full((2, 3), k), k)
    t = threading.Thread(target=writer)
    t.start()
    q, m = np.zeros(400), np.zeros((2, 3))
    reads = 0
    try:
        for _ in range(3000):
            got = s.read(q, m)
            if got is None:
                continue
            reads += 1
            assert np.all(q == got[1]) and np.all(m == got[1]), "a torn pose"
    finally:
        done.set()
        t.join()
    assert reads > 0
    s.close()


def test_a_second_mapping_of_the_descriptor_sees_the_writes():
    """What the child does: map the inherited descriptor."""
    s = PoseShare.create(nq=3, nmocap=0)
    other = PoseShare(s.fd, 3, 0, owner=False)
    s.write(np.array([1.0, 2.0, 3.0]), np.zeros((0, 3)), 7.0)
    q = np.zeros(3)
    assert other.read(q, np.zeros((0, 3)))[1] == 7.0
    np.testing.assert_array_equal(q, [1.0, 2.0, 3.0])
    other.request_stop()
    assert s.stop
    other.close()
    s.close()
