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


def test_fault_free_driver_reports_nothing_wrong():
    rc, rep = doctor("clean.yaml")
    assert rc == 0 and rep["status"] in ("OK", "suspicious") and rep["aborted"] is None
    assert not [f for f in rep["findings"] if f["status"] == "wrong"]


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
