"""The twin's transport and actuator effects, each against its definition."""
import numpy as np
import pytest

from sim2real.sim.reality import NOMINAL, SCHEMA, parse_profile
from sim2real.sim.twin_effects import TwinEffects

DT = 0.002


def effects(jaco, **sections):
    return TwinEffects(parse_profile({"schema": SCHEMA, "seed": 1, **sections}).resolve(jaco), DT, jaco.n)


def test_nominal_is_identity(jaco):
    fx = TwinEffects(NOMINAL.resolve(jaco), DT, jaco.n)
    assert fx.identity
    cmd = np.arange(7.0)
    fx.command_received(0.0, cmd)
    np.testing.assert_allclose(fx.motor_torque(0.0), cmd)
    fx.state_measured(0.0, cmd, -cmd, cmd)
    (t, q, qd, e), = fx.states_due(0.0)
    np.testing.assert_allclose(q, cmd)


def test_latency_delays_by_whole_steps(jaco):
    fx = effects(jaco, dynamics={"latency": {"command": 0.010, "state": 0.006}})
    fx.command_received(0.0, np.ones(7))
    for k in range(5):   # 10 ms = 5 steps of 2 ms
        assert np.all(fx.motor_torque(k * DT) == 0)
    assert np.all(fx.motor_torque(5 * DT) == 1)
    fx.state_measured(0.0, np.zeros(7), np.zeros(7), np.zeros(7))
    assert fx.states_due(0.004) == [] and len(fx.states_due(0.006)) == 1


def test_actuator_lag_is_first_order(jaco):
    lag = 0.02
    fx = effects(jaco, dynamics={"actuator_lag": lag})
    fx.command_received(0.0, np.ones(7))
    k = int(lag / DT)
    for i in range(k):
        out = fx.motor_torque(i * DT)
    assert out[0] == pytest.approx(1 - np.exp(-1), abs=1e-9)   # 63% after one time constant


def test_motor_strength_sign_scale_and_order(jaco):
    order = ["joint_2", "joint_1", "joint_3", "joint_4", "joint_5", "joint_6", "joint_7"]
    fx = effects(jaco, dynamics={"motor_strength": 0.5},
                 driver={"joint_order": order, "sign": {"joint_3": -1}, "command_scale": {"joint_1": 2.0},
                         "offset": {"joint_4": 0.1}})
    wire = np.arange(1.0, 8.0)     # wire slot 0 is joint_2, slot 1 is joint_1
    fx.command_received(0.0, wire)
    tau = fx.motor_torque(0.0)
    np.testing.assert_allclose(tau, 0.5 * np.array([2 * 2.0, 1.0, -3.0, 4, 5, 6, 7]))
    q = np.arange(7.0) / 10
    fx.state_measured(0.0, q, np.zeros(7), np.zeros(7))
    (_, wq, _, _), = fx.states_due(0.0)
    assert wq[0] == pytest.approx(0.1) and wq[1] == pytest.approx(0.0)   # swapped
    assert wq[2] == pytest.approx(-0.2) and wq[3] == pytest.approx(0.3 + 0.1)


def test_drop_rate_and_noise_statistics(jaco):
    fx = effects(jaco, dynamics={"drop_rate": {"state": 0.2}}, sensors={"position_noise": 0.01, "position_bias": 0.05})
    qs = []
    for k in range(5000):
        fx.state_measured(k * DT, np.zeros(7), np.zeros(7), np.zeros(7))
        qs += [s[1] for s in fx.states_due(k * DT)]
    qs = np.array(qs)
    assert 0.17 < 1 - len(qs) / 5000 < 0.23
    assert qs.mean() == pytest.approx(0.05, abs=1e-3) and qs.std() == pytest.approx(0.01, rel=0.05)


def test_backlash_deadband(jaco):
    fx = effects(jaco, dynamics={"backlash": 0.01})
    fx.state_measured(0.0, np.zeros(7), np.zeros(7), np.zeros(7))
    fx.state_measured(0.0, np.full(7, 0.004), np.zeros(7), np.zeros(7))   # inside the 5 mm half band
    fx.state_measured(0.0, np.full(7, 0.02), np.zeros(7), np.zeros(7))
    q = [s[1][0] for s in fx.states_due(1.0)]
    assert q == pytest.approx([0.0, 0.0, 0.015])
