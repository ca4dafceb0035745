"""The doctor's experiment on the twin without ROS: safe and complete on the slowest loop it
claims (40 ms round trip + 20 ms actuator lag), and the reason it is: the hold sized from the probe."""
import pytest

from sim2real.doctor import excitation, timing
from sim2real.doctor.offline import run_offline
from sim2real.sim.reality import SCHEMA, parse_profile

SLOW = {"schema": SCHEMA, "seed": 3,
        "dynamics": {"latency": {"command": 0.025, "state": 0.015}, "actuator_lag": 0.02},
        "sensors": {"position_noise": 0.0005, "velocity_noise": 0.005}}


def test_probe_and_pulses_stay_within_the_excursion_limits_under_40ms_and_20ms_lag(jaco):
    samples, order, exc, worst = run_offline(jaco, parse_profile(SLOW))
    assert exc.aborted is None and exc.finished
    assert worst < excitation.MAX_EXCURSION
    rec = exc.record()
    # the probe measured the loop (command + state transport, + one period each way of the lockstep)
    assert 0.038 <= rec["delay_s"] <= 0.048 and 0.015 <= rec["lag_s"] <= 0.025
    assert rec["hold_w"] < timing.MAX_HOLD_W          # the hold was sized to it
    assert len(rec["rests"]) == 2                     # the start pose and the second one
    assert {p["slot"] for p in rec["pulses"]} == set(range(jaco.n))


def test_a_hold_twice_as_stiff_as_the_probe_sizes_it_rings_on_that_loop(jaco, monkeypatch):
    """What sizing the hold from the probe is for: the same experiment with a hold of twice the
    bandwidth the measured delay allows."""
    sized = timing.hold_bandwidth
    monkeypatch.setattr(excitation.timing, "hold_bandwidth", lambda delay_s, lag_s: 2 * sized(delay_s, lag_s))
    _, _, exc, _ = run_offline(jaco, parse_profile(SLOW), max_s=8.0)
    assert exc.aborted


def test_second_pose_turns_only_unloaded_joints_that_gravity_then_loads(jaco):
    import numpy as np

    from sim2real.control.nominal_model import NominalModel
    m = NominalModel(jaco)
    q0 = np.array(jaco.home)

    def gravity(q):
        return m.dynamics(q, np.zeros(jaco.n))[1]
    delta = excitation.second_pose(gravity, q0, jaco.position_lower, jaco.position_upper)
    g0 = gravity(q0)
    turned = np.flatnonzero(delta)
    assert len(turned) and np.all(np.abs(g0[turned]) < 1.0)
    assert delta[0] == 0 and delta[6] == 0          # vertical axis, hand roll: gravity never loads them
    assert len(set(np.abs(delta[turned]))) == len(turned)   # each by its own amount
    # a joint the model thinks unloaded but the driver's torque says is loaded is left alone
    held = g0.copy()
    held[turned[0]] = 5.0
    assert excitation.second_pose(gravity, q0, jaco.position_lower, jaco.position_upper, held=held)[turned[0]] == 0


def test_a_reversed_joint_3_under_40ms_and_20ms_lag_moves_to_the_second_pose_and_back(jaco):
    """joint_3 reversed holds like joint_5 reversed at the start pose: the move's feed-forward
    re-picks the senses on the way. Picks chattering between explanations, each a step of
    torque, rang the wrist until it ran past 1.5 rad/s; a switch now needs a clearly better fit
    and fades in."""
    from sim2real import paths
    from sim2real.config_io import load_yaml
    profile = load_yaml(paths.data_root() / "test" / "fixtures" / "reality" / "combined-c.yaml")
    profile["driver"]["sign"] = {"joint_3": -1}         # instead of joint_2 and joint_5
    _, _, exc, worst = run_offline(jaco, parse_profile(profile))
    assert exc.aborted is None and exc.finished
    assert worst < excitation.MAX_EXCURSION
    assert len(exc.record()["rests"]) == 2
