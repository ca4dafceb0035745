"""`sim2real doctor` against the twin (lockstep): a fault-free driver passes, a faulty one is caught."""
import json
import subprocess
import sys

import pytest

from sim2real import paths

pytestmark = pytest.mark.ros
FIXTURES = paths.data_root() / "test" / "fixtures" / "reality"


def doctor(fixture):
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "doctor", "--lockstep", "--json",
                        "--reality", str(FIXTURES / fixture)], capture_output=True, text=True, timeout=300)
    return r.returncode, json.loads(r.stdout)


def test_fault_free_driver_with_8ms_latency_reports_nothing_wrong():
    rc, rep = doctor("clean-8ms.yaml")
    assert rc == 0 and rep["aborted"] is None
    assert not [f for f in rep["findings"] if f["status"] == "wrong"]
    # lockstep: the driver publishes /clock, and the stamps are on it
    clock = next(f for f in rep["findings"] if f["check"] == "clock")
    assert clock["status"] == "OK" and clock["measured"].startswith("sim time (/clock")


def test_combined_faults_under_latency_and_lag_are_all_found_in_one_run():
    """combined-b: 30 ms round trip + 15 ms actuator lag + dropped states, joint_3 reversed (a roll:
    only the second pose loads it), joint_4 offset, joint_2's commands scaled by 0.6."""
    rc, rep = doctor("combined-b.yaml")
    flagged = {(f["check"], f["joint"]) for f in rep["findings"] if f["status"] in ("wrong", "suspicious")}
    wrong = {(f["check"], f["joint"]) for f in rep["findings"] if f["status"] == "wrong"}
    assert rc == 1 and rep["aborted"] is None
    assert wrong == {("direction", "joint_3"), ("offset at rest", "joint_4"), ("torque gain", "joint_2")}
    assert ("latency", "-") in flagged and ("actuator lag", "joint_5") in flagged
    c = rep["corrections"]
    assert c["sign"] == {"joint_3": -1} and c["command_scale"]["joint_2"] == pytest.approx(1 / 0.6, rel=0.05)
    assert c["offset"]["joint_4"] == pytest.approx(-0.04, abs=0.012) and 0.028 <= c["latency_s"] <= 0.036


def test_swapped_and_reversed_joints_found_with_corrections():
    rc, rep = doctor("sign.yaml")
    wrong = {(f["check"], f["joint"]) for f in rep["findings"] if f["status"] == "wrong"}
    assert rc == 1 and ("direction", "joint_6") in wrong
    assert rep["corrections"]["sign"] == {"joint_6": -1}
    rc, rep = doctor("swap.yaml")
    assert rc == 1 and rep["corrections"]["joint_order"][2:4] == ["joint_4", "joint_3"]


@pytest.mark.parametrize("robot", ["go1", "nao"])
def test_legged_robots_get_a_step_experiment_that_passes_when_nothing_is_wrong(robot):
    """Position / PD-target robots: a small position step per joint through the safety filter."""
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "doctor", "--robot", robot, "--lockstep", "--json"],
                       capture_output=True, text=True, timeout=300)
    rep = json.loads(r.stdout)
    assert r.returncode == 0 and rep["aborted"] is None, rep
    checks = {f["check"] for f in rep["findings"]}
    assert {"direction", "step tracked", "latency"} <= checks
    assert not [f for f in rep["findings"] if f["status"] == "wrong"]
