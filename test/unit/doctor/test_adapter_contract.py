"""Driver corrections undo exactly what a mis-configured driver does; the contract check sees order."""
import numpy as np
import pytest

from sim2real.doctor.adapter import DriverAdapter
from sim2real.doctor.contract import check_contract
from sim2real.errors import ConfigError
from sim2real.sim.reality import SCHEMA, parse_profile
from sim2real.sim.twin_effects import TwinEffects

FAULTS = {"joint_order": ["joint_1", "joint_2", "joint_4", "joint_3", "joint_5", "joint_6", "joint_7"],
          "sign": {"joint_6": -1}, "offset": {"joint_2": 0.05}, "command_scale": {"joint_4": 0.5}}


def test_corrections_invert_the_twins_faults(jaco):
    fx = TwinEffects(parse_profile({"schema": SCHEMA, "driver": FAULTS}).resolve(jaco), 0.002, 7)
    ad = DriverAdapter.from_dict({"schema": "sim2real/driver-corrections/v1", "joint_order": FAULTS["joint_order"],
                                  "sign": {"joint_6": -1}, "offset": {"joint_2": 0.05},
                                  "command_scale": {"joint_4": 2.0}}, jaco)
    q = np.linspace(-1, 1, 7)
    fx.state_measured(0.0, q, 2 * q, 3 * q)
    (_, wq, wqd, we), = fx.states_due(0.0)
    rq, rqd, re = ad.state_to_robot(FAULTS["joint_order"], wq, wqd, we)
    np.testing.assert_allclose(rq, q, atol=1e-12)
    np.testing.assert_allclose(rqd, 2 * q, atol=1e-12)
    tau = np.arange(1.0, 8.0)
    fx.command_received(0.0, ad.command_to_driver(tau))
    np.testing.assert_allclose(fx.motor_torque(0.0), tau, atol=1e-12)


def test_bad_corrections(jaco):
    with pytest.raises(ConfigError, match="joint_order"):
        DriverAdapter.from_dict({"schema": "sim2real/driver-corrections/v1", "joint_order": ["joint_1"]}, jaco)
    with pytest.raises(ConfigError, match="schema"):
        DriverAdapter.from_dict({}, jaco)


def test_contract_sees_order_stamps_and_units(jaco):
    names = FAULTS["joint_order"]
    samples = [(0.002 * k, 0.002 * k, names, [0.1] * 7, [0.0] * 7, [0.0] * 7) for k in range(100)]
    samples[50] = (0.1, 0.0, names, [100.0] * 7, [0.0] * 7, [0.0] * 7)   # a stamp backwards, degrees?
    findings, order = check_contract(samples, jaco)
    by = {(f.check, f.joint): f.status for f in findings}
    assert order == names and by[("joint order", "-")] == "wrong"
    assert by[("stamps", "-")] == "wrong" and by[("units", "joint_1")] == "wrong"
    assert by[("rate", "-")] == "OK"


def test_corrections_yaml_round_trips_through_the_adapter(jaco):
    """What the doctor writes, the adapter reads (numpy scalars included)."""
    import yaml

    from sim2real.doctor.identify import JointID
    from sim2real.doctor.report import corrections, to_yaml
    ids = [JointID(n, np.float64(0.5 if n == "joint_2" else 1.0), np.float64(0.004), np.float64(0.01),
                   np.float64(0.99), 0.0, 0.0, 0.0, np.float64(0.001)) for n in jaco.joint_names]
    grav = {"sign": {"joint_6": -1}, "offset": {"joint_4": np.float64(0.03)}}
    text = to_yaml(corrections(jaco, list(jaco.joint_names), ids, grav))
    ad = DriverAdapter.from_dict(yaml.safe_load(text), jaco)
    assert ad.command_scale[1] == pytest.approx(2.0) and ad.sign[5] == -1 and ad.offset[3] == pytest.approx(0.03)
    assert not ad.identity


def test_the_clock_check_reads_what_the_driver_publishes(jaco):
    """The twin in real time publishes no /clock: its stamps are wall time and say so; stamps
    counting from 0 without a /clock are bad stamps; with /clock they must be on it."""
    import time as _time
    names = list(jaco.joint_names)
    now = _time.time()

    def stream(stamp0):
        return [(now + 0.002 * k, stamp0 + 0.002 * k - 0.001, names, [0.1] * 7, [0.0] * 7, [0.0] * 7)
                for k in range(100)]

    def clock_finding(samples, clock):
        return next(f for f in check_contract(samples, jaco, clock=clock)[0] if f.check == "clock")
    f = clock_finding(stream(now), {"messages": 0, "offsets": []})
    assert f.status == "OK" and f.measured == "wall time (no /clock)"
    f = clock_finding(stream(0.0), {"messages": 0, "offsets": []})
    assert f.status == "wrong" and "/clock" not in f.measured.split("(")[0]
    f = clock_finding(stream(0.0), {"messages": 50, "offsets": [0.004] * 100})
    assert f.status == "OK" and f.measured.startswith("sim time (/clock")
    f = clock_finding(stream(0.0), {"messages": 50, "offsets": [3.0] * 100})
    assert f.status == "wrong"


def test_up_with_corrections_gives_the_controller_the_delay_the_doctor_measured(tmp_path):
    """`sim2real up --corrections` fills the adaptive modes' latency_s (round trip) and actuator_lag_s
    (the median lag)."""
    import yaml

    from sim2real.graph import build_graph
    path = tmp_path / "corr.yaml"
    path.write_text(yaml.safe_dump({"schema": "sim2real/driver-corrections/v1", "robot": "jaco", "latency_s": 0.028,
                                    "actuator_lag_s": {"joint_1": 0.01, "joint_2": 0.02, "joint_3": 0.01}}))
    ctl = next(d for d in build_graph("jaco", "twin", None, camera=False, corrections=str(path)) if d.name == "controller")
    assert ctl.params["latency_s"] == pytest.approx(0.028) and ctl.params["actuator_lag_s"] == pytest.approx(0.01)
