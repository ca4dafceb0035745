"""The control loop's serialized messages (ros/convert.py): the writers give the bytes of the
messages their namesakes build, and the readers give what the deserialized message gives
(JointMap.extract / effort, from_time), in place for a steady stream and through rclpy otherwise."""
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from sim2real.ros import convert

ROBOT = [f"joint_{i}" for i in range(1, 8)]
WIRE = ["joint_2", "joint_1", "joint_3", "joint_4", "joint_5", "joint_7", "joint_6", "finger_1", "finger_2"]


def _same(a, b) -> bool:
    return a is None and b is None or (a is not None and b is not None and
                                       np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def test_joint_state_writer_gives_joint_state_cdr_bytes():
    rng = np.random.default_rng(0)
    for names, frame in ((WIRE, ""), (ROBOT, "base"), (["a"], "xyz"), ([], "")):
        n = len(names)
        w = convert.JointStateWriter(names, n, n, n, frame_id=frame)
        for _ in range(20):
            q, qd, eff = rng.normal(size=(3, n))
            stamp = float(rng.uniform(0, 2e9))
            w.position[:], w.velocity[:], w.effort[:] = q, qd, eff
            assert w.serialize(stamp) == convert.joint_state_cdr(stamp, names, q, qd, eff, frame_id=frame)
    w = convert.JointStateWriter(ROBOT, 7, 0, 0)      # slots of absent fields: none
    w.position[:] = np.arange(7.0)
    assert w.serialize(1.5) == convert.joint_state_cdr(1.5, ROBOT, np.arange(7.0))


def test_imu_writer_decodes_as_imu():
    rng = np.random.default_rng(1)
    w = convert.ImuWriter("trunk_imu")
    for _ in range(20):
        quat, gyro, acc = rng.normal(size=4), rng.normal(size=3), rng.normal(size=3)
        stamp = float(rng.uniform(0, 1e5))
        got = deserialize_message(w.serialize(stamp, quat, gyro, acc), Imu)
        assert got == convert.imu(stamp, "trunk_imu", quat, gyro, acc)


def _reference(data: bytes, jm: convert.JointMap):
    msg = deserialize_message(data, JointState)
    q, qd, problem = jm.extract(msg)
    return convert.from_time(msg.header.stamp), q, qd, jm.effort(msg), problem


@pytest.mark.parametrize("names", [WIRE, ROBOT, list(reversed(ROBOT))])
def test_joint_state_reader_reads_as_extract(names):
    rng = np.random.default_rng(2)
    reader, jm = convert.JointStateReader(ROBOT), convert.JointMap(ROBOT)
    n = len(names)
    cases = []
    for k in range(60):
        q = rng.normal(size=n)
        qd = rng.normal(size=n) if k % 7 else None
        eff = rng.normal(size=n) if k % 5 else None
        if k % 11 == 3:
            q[2] = np.nan
        if k % 13 == 4 and qd is not None:
            qd[0] = np.inf
        stamp = float(rng.uniform(0, 2e9)) if k % 3 else k * 0.002
        cases.append(convert.joint_state_cdr(stamp, names, q, qd, eff))
    cases.append(convert.joint_state_cdr(1.0, names[:-1], np.zeros(n - 1)))         # a joint missing
    cases.append(convert.joint_state_cdr(1.0, names, np.zeros(n), np.zeros(2)))      # sizes
    cases.append(serialize_message(convert.joint_state(1.0, names, np.ones(n), np.ones(n))))   # rclpy's bytes
    cases.append(convert.joint_state_cdr(1.0, names, np.ones(n), np.ones(n), frame_id="other"))
    for data in cases + cases[:5]:
        got, ref = reader.read(data), _reference(data, jm)
        assert got[0] == ref[0] and got[4] == ref[4]
        assert all(_same(a, b) for a, b in zip(got[1:4], ref[1:4]))
        if got[4] is None:
            assert got[1].flags.writeable and got[2].flags.writeable
    assert reader._shape is not None      # the steady stream was read in place


@pytest.mark.parametrize("with_qd,with_effort", [(True, True), (False, True), (True, False), (False, False)])
def test_joint_state_reader_steady_streams(with_qd, with_effort):
    """Runs of one layout (each field present or not) are read in place, as extract reads them."""
    rng = np.random.default_rng(4)
    reader, jm = convert.JointStateReader(ROBOT), convert.JointMap(ROBOT)
    n = len(WIRE)
    for k in range(12):
        q, qd, eff = rng.normal(size=(3, n))
        if k == 7:
            q[5] = np.inf
        data = convert.joint_state_cdr(k * 0.002, WIRE, q, qd if with_qd else None, eff if with_effort else None)
        got, ref = reader.read(data), _reference(data, jm)
        assert got[0] == ref[0] and got[4] == ref[4]
        assert all(_same(a, b) for a, b in zip(got[1:4], ref[1:4]))
        assert k == 0 or reader._shape is not None


def test_float64_array_reader_reads_as_deserialize():
    rng = np.random.default_rng(3)
    reader = convert.Float64ArrayReader()
    cases = [convert.effort_command_cdr(rng.normal(size=7)) for _ in range(10)]
    cases += [convert.effort_command_cdr(np.full(7, np.nan)), convert.effort_command_cdr(np.zeros(3)),
              convert.effort_command_cdr(np.zeros(0)), serialize_message(convert.effort_command(np.arange(7.0))),
              serialize_message(Float64MultiArray(data=[1.0, 2.0])), convert.effort_command_cdr(np.ones(7))]
    for data in cases:
        got = reader.read(data)
        ref = np.asarray(deserialize_message(data, Float64MultiArray).data, dtype=float)
        assert got.dtype == np.float64 and np.array_equal(got, ref, equal_nan=True)


def test_clock_cdr_decodes_as_to_time():
    from rosgraph_msgs.msg import Clock
    for t in (0.0, 0.02, 123.456789, 1.7e9 + 0.25):
        assert deserialize_message(convert.clock_cdr(t), Clock).clock == convert.to_time(t)
