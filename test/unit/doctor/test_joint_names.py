"""A driver naming the joints its own way (Kinova's j2s7s300_joint_1 for joint_1): the doctor maps
the names, the corrections carry the mapping, the driver adapter applies it both ways."""
import random

import numpy as np
import pytest
import yaml

from sim2real.doctor.adapter import DriverAdapter
from sim2real.doctor.contract import check_contract, map_names
from sim2real.doctor.report import naming_corrections, to_yaml
from sim2real.errors import ConfigError

ARM = [f"joint_{i}" for i in range(1, 8)]
SHUFFLED = ["joint_2", "joint_1", "joint_3", "joint_4", "joint_5", "joint_7", "joint_6"]
KINOVA = [f"j2s7s300_{n}" for n in SHUFFLED] + [f"j2s7s300_joint_finger_{i}" for i in (1, 2, 3)]


def test_mapping_by_a_common_prefix_in_any_order():
    names = list(KINOVA)
    random.Random(3).shuffle(names)
    m = map_names(names, ARM)
    assert m.mapping == {f"j2s7s300_{n}": n for n in ARM} and "j2s7s300_" in m.how
    assert list(m.mapping.values()) == ARM        # config order, whatever the driver's
    assert map_names(ARM[::-1], ARM).mapping == {}    # the robot's own names: nothing to map


@pytest.mark.parametrize("driver, expect", [
    ([f"{n}_pos" for n in ARM], "suffix added"),
    ([n[len("joint_"):] for n in ARM], "prefix removed"),
    ([f"arm_{i}" for i in (3, 1, 2, 7, 5, 6, 4)] + ["finger_1", "finger_2"], "trailing index"),
])
def test_other_consistent_mappings(driver, expect):
    m = map_names(driver, ARM)
    assert m.mapping is not None and expect in m.how
    assert sorted(m.mapping.values()) == ARM and all(d in driver for d in m.mapping)


def test_unmappable_and_ambiguous_names_stay_missing():
    m = map_names([f"j2s7s300_joint_{i}" for i in range(1, 7)] + ["j2s7s300_wrist_roll"], ARM)
    assert m.mapping is None and m.missing == ["joint_7"] and m.extra == ["j2s7s300_wrist_roll"]
    both = [f"a_{n}" for n in ARM] + [f"b_{n}" for n in ARM]      # two prefixes fit: no guess
    assert map_names(both, ARM).mapping is None


def _stream(names):
    return [(0.002 * k, 0.002 * k, names, [0.1] * len(names), [0.0] * len(names), [0.0] * len(names))
            for k in range(100)]


def test_contract_reports_a_naming_finding_not_missing(jaco):
    findings, order = check_contract(_stream(KINOVA), jaco)
    by = {(f.check, f.joint): f for f in findings}
    f = by[("joint names", "-")]
    assert f.status == "wrong" and "map names" in f.note and "missing" not in f.note
    assert order == SHUFFLED and by[("joint order", "-")].status == "wrong"
    assert by[("units", "joint_7")].status == "OK" and by[("rate", "-")].status == "OK"

    bad = [f"j2s7s300_joint_{i}" for i in range(1, 7)] + ["j2s7s300_wrist_roll"]
    findings, order = check_contract(_stream(bad), jaco)
    assert order is None and len(findings) == 1
    assert "missing ['joint_7']" in findings[0].note and "j2s7s300_wrist_roll" in findings[0].note


def test_adapter_translates_vendor_names_both_ways(jaco):
    """What the doctor writes (names + order), the adapter reads; a vendor JointState comes out in
    the contract's names and order, and commands go back in the driver's order."""
    names = map_names(KINOVA, ARM).mapping
    corr = yaml.safe_load(to_yaml(naming_corrections(jaco, SHUFFLED, names)))
    assert corr["names"]["j2s7s300_joint_1"] == "joint_1" and corr["joint_order"] == SHUFFLED
    ad = DriverAdapter.from_dict({**corr, "sign": {"joint_6": -1}}, jaco)
    assert not ad.identity
    true_q = np.linspace(-1.0, 1.0, 7)                              # config order
    wire_q = [true_q[ARM.index(n)] * (-1 if n == "joint_6" else 1) for n in SHUFFLED] + [0.5] * 3
    q, qd, e = ad.state_to_robot(KINOVA, wire_q, 2 * np.asarray(wire_q), [])
    np.testing.assert_allclose(q, true_q)
    np.testing.assert_allclose(qd, 2 * true_q)
    tau = np.arange(1.0, 8.0)
    wire_tau = ad.command_to_driver(tau)
    for k, n in enumerate(SHUFFLED):
        assert wire_tau[k] == tau[ARM.index(n)] * (-1 if n == "joint_6" else 1)
    with pytest.raises(ValueError):       # a driver not naming joint_7 at all: not guessed
        ad.state_to_robot(KINOVA[:6], wire_q[:6], [], [])


def test_bad_names_in_corrections(jaco):
    base = {"schema": "sim2real/driver-corrections/v1", "robot": "jaco"}
    with pytest.raises(ConfigError, match="names"):
        DriverAdapter.from_dict({**base, "names": {"j2s7s300_joint_1": "joint_9"}}, jaco)
    with pytest.raises(ConfigError, match="names"):
        DriverAdapter.from_dict({**base, "names": {"a": "joint_1", "b": "joint_1"}}, jaco)
    with pytest.raises(ConfigError, match="names"):
        DriverAdapter.from_dict({**base, "names": ["joint_1"]}, jaco)


def test_the_adapter_node_publishes_contract_names(jaco, tmp_path):
    """The node: a vendor-named /driver/joint_states -> /joint_states in the config's names."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from sim2real.ros.nodes.driver_adapter import DriverAdapterNode
    path = tmp_path / "corr.yaml"
    path.write_text(to_yaml(naming_corrections(jaco, SHUFFLED, map_names(KINOVA, ARM).mapping)))
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = DriverAdapterNode(context=ctx, parameter_overrides=[Parameter("corrections", value=str(path))])
        sent = []

        class Pub:
            def publish(self, msg):
                sent.append(msg)
        node.pub_js = node.pub_cmd = Pub()
        msg = JointState(name=KINOVA, position=[float(ARM.index(n)) for n in SHUFFLED] + [9.0] * 3)
        node._on_state(msg)
        assert list(sent[-1].name) == ARM and list(sent[-1].position) == [float(i) for i in range(7)]
        node._on_command(Float64MultiArray(data=[float(i) for i in range(7)]))
        assert list(sent[-1].data) == [float(ARM.index(n)) for n in SHUFFLED]
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_diagnosis_writes_the_renaming_even_when_the_experiment_cannot_run(jaco):
    from sim2real.doctor.diagnose import diagnose
    vendor = [f"j2s7s300_{n}" for n in jaco.joint_names]
    d = diagnose(jaco, _stream(vendor), None, None, False)
    assert d.failed and d.aborted == "not run"       # the filter reads robot names: run again behind the adapter
    assert d.corrections["names"] == dict(zip(vendor, jaco.joint_names))
    assert DriverAdapter.from_dict(d.corrections, jaco) is not None   # a file the adapter takes
