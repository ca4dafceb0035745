"""The adaptive modes' delay line: the torques on their way over the loop's delay, through the
actuators' lag when it is known apart."""
import numpy as np
import pytest

from sim2real.control.local_linear import DelayLine


def line(lag_s):
    d = DelayLine(2, 0.002, 0.01, lag_s)      # 5 steps of transport
    for k in range(20):                        # a step from 0 to 1 N m asked at t = 0.02
        d.push(0.002 * k, np.ones(2) * (k >= 10))
    return d


def test_without_lag_the_torques_due_are_the_ones_asked_one_delay_before():
    U = line(0.0).torques(0.024, np.zeros(2))          # due at 0.014 .. 0.022: 0, 0, 0, 1, 1
    np.testing.assert_allclose(U[:, 0], [0, 0, 0, 1, 1])


def test_with_lag_they_reach_the_joints_through_a_first_order_filter_from_the_torque_acting_now():
    d = line(0.01)
    a = 1 - np.exp(-0.002 / 0.01)
    U = d.torques(0.024, np.full(2, 0.5))             # 0.5 N m measured at the joints now
    y, want = 0.5, []
    for u in (0, 0, 0, 1, 1):
        y += a * (u - y)
        want.append(y)
    np.testing.assert_allclose(U[:, 0], want)
    assert d.lead == pytest.approx(0.01)              # aimed where the command starts to act: the transport, not + lag
