"""Fault injection against the real graph (issue 18): foreign clients, garbage, floods, locks, dead
nodes, a killed recorder. Each scenario (sim2real/ros/faults.py, also `sim2real bench faults`)
watches what reached the motors and what the arm did; here every one must be safe and the graph
must have said something about it."""
import pytest

from sim2real.ros import faults, faults_live

pytestmark = pytest.mark.ros

IN_PROCESS = ["spoofed_stamps", "foreign_commands", "garbage_inputs", "extreme_desired", "flood", "volatile_lock"]


@pytest.mark.parametrize("name", IN_PROCESS)
def test_fault_is_safe_and_reported(name):
    out = faults.SCENARIOS[name]()
    assert out.safe, f"{out.fault}: {out.unsafe}"
    assert out.diagnostics, f"{out.fault}: nothing said about it"


def test_killed_nodes_are_named_restarted_and_the_arm_holds():
    """One process per node on the real-time twin; kill -9 the safety filter, the driver, the mux."""
    outs = faults_live.node_deaths(kinds=("safety", "mux", "driver"))
    for o in outs:
        assert o.safe, f"{o.fault}: {o.unsafe}"
        assert any("died" in d for d in o.diagnostics) and any("restarting" in d for d in o.diagnostics), o


def test_a_realtime_flood_from_another_process_neither_moves_nor_endangers_the_arm():
    o = faults_live.flood_realtime()
    assert o.safe, o.unsafe


def test_the_lock_holds_the_arm_still_on_a_slow_loop():
    o = faults_live.lock_slow_loop()
    assert o.safe, o.unsafe


def test_killed_recorder_leaves_a_recoverable_file_and_records_on():
    o = faults_live.recording_kill()
    assert o.safe, o.unsafe
    lost = float(o.data_lost.split()[0])
    # flushed every 0.2 s of wall time; lockstep runs ~1-2x real time. Measured against the last
    # state the observer (another process) had received at the kill: when it lags the recorder
    # (a loaded machine, a faster graph) the file reaches past that stamp, a little below 0
    assert -0.2 < lost < 0.6
