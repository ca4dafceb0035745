"""Go1 and NAO stand 60 sim-s on the classical baseline at their control rate, and take a push."""
import math

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.robots import load_robot, pd_torque
from sim2real.sim.simulator import Simulator
from sim2real.tasks.registry import TASKS, make_task
from sim2real.tasks.stand import StandBaseline, StandTask, base_tilt


def run_stand(robot, seconds, push=None):
    """Stand on the baseline: joint targets through the robot's PD at the control rate.
    push: (force (3,) N on base_link, start s, duration s). Returns (task, worst |height error| m,
    last status, max tilt rad)."""
    sim = Simulator(robot)
    task = StandTask.from_robot(robot, sim)
    ctrl = StandBaseline(robot, task, sim)
    sim.reset(task.pose)
    ctrl.reset(sim.joint_state()[0], sim.time)
    base = sim.model.body(robot.base_link).id
    worst, tilt, st = 0.0, 0.0, None
    for k in range(int(round(seconds * robot.control_rate_hz))):
        if push is not None:
            f, t0, dur = push
            sim.data.xfrc_applied[base, :3] = f if t0 <= sim.time < t0 + dur else 0.0
        q, qd, _ = sim.joint_state()
        sim.step(pd_torque(robot, ctrl.targets(sim.time), q, qd))
        if k % 10 == 0:
            st = task.status(*sim.base_pose())
            assert not st.fallen, f"{robot.name} fell at t={sim.time:.2f} s: {st}"
            worst, tilt = max(worst, abs(st.height_error_m)), max(tilt, st.tilt_rad)
    return task, worst, task.status(*sim.base_pose()), tilt


@pytest.mark.parametrize("name", ["go1", "nao"])
def test_stands_60_s(name):
    robot = load_robot(name)
    task, worst, st, tilt = run_stand(robot, 60.0)
    assert 0.27 <= task.base_height <= 0.34
    assert worst <= 0.03 and st.standing and math.degrees(tilt) < 5.0


@pytest.mark.parametrize("name,push", [("go1", [0, 60.0, 0]), ("go1", [60.0, 0, 0]),
                                       ("nao", [10.0, 0, 0]), ("nao", [0, 10.0, 0])])
def test_takes_a_push(name, push):
    """0.1 s pushes on the base (6 N s on the 12.7 kg Go1, 1 N s on the 5.3 kg NAO): no fall, and
    back at its height within 3 s."""
    robot = load_robot(name)
    _, _, st, tilt = run_stand(robot, 4.0, (np.array(push), 1.0, 0.1))
    assert st.standing and math.degrees(tilt) > 0.5       # the push did tilt it


def test_baseline_offsets_targets_by_the_stance_load():
    go1 = load_robot("go1")
    ctrl = StandBaseline(go1)
    # statics: the motors carry the weight; knees (calf) work hardest, as tau / kp would sag them
    calf = [go1.joint_names.index(f"{leg}_calf_joint") for leg in ("FR", "FL", "RR", "RL")]
    assert np.all(ctrl.tau_stance[calf] > 1.0)
    np.testing.assert_allclose(ctrl.q_target - ctrl.task.pose, ctrl.tau_stance / go1.pd_kp, atol=1e-12)
    ctrl.reset(ctrl.task.pose + 0.2, t0=1.0)
    np.testing.assert_allclose(ctrl.targets(1.0), ctrl.task.pose + 0.2 + ctrl.offset)
    np.testing.assert_allclose(ctrl.targets(1.0 + ctrl.task.ramp_s), ctrl.q_target)


def test_status_detects_falls():
    task = StandTask.from_robot(load_robot("go1"))
    up = np.array([1.0, 0, 0, 0])
    assert task.status([0, 0, task.base_height], up).standing
    assert task.status([0, 0, 0.5 * task.base_height], up).fallen
    roll60 = np.array([math.cos(math.pi / 6), math.sin(math.pi / 6), 0, 0])
    assert base_tilt(roll60) == pytest.approx(math.pi / 3)
    assert task.status([0, 0, task.base_height], roll60).fallen


def test_task_registry():
    assert set(TASKS) >= {"reach", "stand"}
    jaco, go1 = load_robot("jaco"), load_robot("go1")
    assert make_task(jaco).hold_s == 4.0
    assert isinstance(make_task(go1), StandTask)
    with pytest.raises(ConfigError, match="has no task 'stand'"):
        make_task(jaco, "stand")
    with pytest.raises(ConfigError, match="needs a floating base"):
        StandTask.from_robot(jaco)
