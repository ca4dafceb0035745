"""gz_driver's core: a nominal profile passes states and commands straight through; a profile's
latency, driver order and sign act as on the twin; the motor controller's holds are the twin's."""
import numpy as np
import pytest

from sim2real.robots import load_robot
from sim2real.safety.filter import SafetyFilter
from sim2real.sim.gazebo_relay import GazeboRelay
from sim2real.sim.reality import parse_profile
from sim2real.sim.twin import HOLD_BRAKES, HOLD_DEADLINE, HOLD_SATURATED


def test_nominal_is_a_pass_through_and_holds_like_the_twin():
    jaco = load_robot("jaco")
    g = np.linspace(1, 7, 7)
    r = GazeboRelay(jaco, gravity=lambda q: g)
    q, qd = jaco.home.copy(), np.zeros(7)
    (st,) = r.measured(0.0, q, qd, np.ones(7))
    assert st[0] == 0.0 and np.array_equal(st[1], q)
    out = r.output(0.0, q, qd)                            # no command yet: the brakes (hold + gravity)
    assert r.holding == HOLD_BRAKES and np.allclose(out, np.clip(SafetyFilter(jaco).hold(q, qd) + g, -jaco.effort_limit, jaco.effort_limit))
    assert r.command(np.full(7, 0.3), 0.002) is None
    assert np.allclose(r.output(0.002, q, qd), 0.3) and r.holding is None
    assert np.allclose(r.output(0.004, q, qd), 0.3)      # kept until the deadline (5 periods)
    r.output(0.013, q, qd)
    assert r.holding == HOLD_DEADLINE
    assert "NaN" in r.command([np.nan] * 7, 0.014) and "7" in r.command([0.0] * 3, 0.014)
    sat = np.full(7, 0.1)
    sat[0] = 1e3                                          # clipped to the limit: saturated
    r.command(sat, 0.02)
    assert r.output(0.02, q, qd)[0] == pytest.approx(jaco.effort_limit[0])
    r.output(0.022, q, qd)
    assert r.holding == HOLD_SATURATED and r.clipped == 1 and r.refused == 2


def test_latency_order_and_sign_act_as_on_the_twin():
    go1 = load_robot("go1")
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "go1",
                          "dynamics": {"latency": {"command": 0.004, "state": 0.002}},
                          "driver": {"sign": {"FR_hip_joint": -1},
                                     "joint_order": list(reversed(go1.joint_names))}})
    r = GazeboRelay(go1, prof)
    assert r.wire_joints == tuple(reversed(go1.joint_names))
    q = go1.home.copy()
    assert r.measured(0.0, q, np.zeros(12), np.zeros(12)) == []          # in transport
    (st,) = r.states_due(0.002)
    assert st[1][-1] == -q[0] and np.array_equal(st[1][:-1], q[::-1][:-1])   # wire order, FR hip's sign flipped
    wire = np.array(go1.home[::-1])
    r.command(wire, 0.01)
    assert r.output(0.012, q, np.zeros(12)) is not None and r.holding == HOLD_BRAKES   # not delivered yet
    out = r.output(0.014, q, np.zeros(12))
    expect = go1.home.copy()
    expect[0] = -expect[0]                                   # the driver's sign fault reaches the joint
    assert r.holding is None and np.allclose(out, expect)    # position targets for the position controller
