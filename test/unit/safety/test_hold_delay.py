"""The filter's hold on a slow loop: its gains are set for the loop's delay, and with the nominal
model it carries gravity, so the arm neither thrashes nor sags (the teleop lock on laggy-noisy
drove joints to 10-25 rad/s with the configured gains alone)."""
import numpy as np
import pytest

from sim2real import paths
from sim2real.control.nominal_model import NominalModel
from sim2real.robots import load_robot
from sim2real.safety.filter import SafetyFilter
from sim2real.sim.reality import load_profile
from sim2real.sim.twin import Twin


def nominal_at(robot):
    nm, rest = NominalModel(robot), np.zeros(robot.n)

    def at(q):
        M, h = nm.dynamics(q, rest)
        return h, np.diag(M)
    return at


def hold_on_twin(profile, safety, seconds=2.0):
    robot = load_robot("jaco")
    tw = Twin(robot, load_profile(paths.resolve(profile)))
    last, vmax, q0 = None, np.zeros(robot.n), tw.sim.joint_state()[0].copy()
    for _ in range(int(seconds / robot.dt)):
        for _, wq, wqd, _ in tw.measure():
            last = (wq.copy(), wqd.copy())
        if last is not None:
            tw.command(safety.hold(*last))
        tw.step()
        vmax = np.maximum(vmax, np.abs(tw.sim.joint_state()[1]))
    return vmax, tw.sim.joint_state()[0] - q0


@pytest.mark.parametrize("model", [True, False])
def test_the_hold_stays_still_on_a_34_ms_loop(model):
    robot = load_robot("jaco")
    # 14 ms of transport as the filter node measures it (2 x the state's age); 20 ms of actuator lag unseen
    f = SafetyFilter(robot, loop_delay_s=0.014, model=nominal_at(robot) if model else None)
    vmax, moved = hold_on_twin("config/reality/laggy-noisy.yaml", f)
    assert vmax.max() < (0.5 if model else 2.0), f"max joint speed {vmax.round(2)} rad/s"
    assert np.abs(moved).max() < (0.03 if model else 0.3), f"moved {moved.round(3)} rad"


def test_the_configured_gains_alone_are_what_thrashed():
    """The same hold with the gains of a 0-delay loop: what the gains above are set against."""
    robot = load_robot("jaco")
    f = SafetyFilter(robot, loop_delay_s=0.0)
    vmax, _ = hold_on_twin("config/reality/laggy-noisy.yaml", f, seconds=1.5)
    assert vmax.max() > 5.0


def test_hold_gains_follow_the_delay_and_never_exceed_the_configured_ones():
    robot = load_robot("jaco")
    inertia = np.diag(NominalModel(robot).dynamics(robot.home, np.zeros(robot.n))[0])
    f = SafetyFilter(robot)
    kp0, kd0 = f.hold_gains(inertia)
    assert np.all(kp0 <= f.kp_hold) and np.all(kd0 <= f.kd_hold)
    assert kp0[1] == f.kp_hold[1]          # the shoulder keeps its configured stiffness on a fast loop
    f.set_loop_delay(0.04)
    kp, kd = f.hold_gains(inertia)
    assert np.all(kp < kp0) and np.all(kd < kd0)
    kp_n, kd_n = f.hold_gains(None)        # no model: the configured gains scaled down
    assert np.all(kp_n < f.kp_hold) and np.all(kd_n < f.kd_hold)
