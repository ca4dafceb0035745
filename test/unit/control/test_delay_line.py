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


def test_the_lag_lead_steps_from_the_smoothed_torque_so_noise_is_not_multiplied():
    """A steady command gets the full lead (as y + (u - y) alpha^-p); a noisy one's noise is
    multiplied less than by alpha^-p."""
    import numpy as np
    from sim2real.control.local_linear import DelayLine
    dl = DelayLine(2, 0.002, 0.01, 0.0125)
    k = dl.alpha ** -0.5
    u, y = np.array([5.0, -20.0]), np.array([4.0, -18.0])
    for _ in range(50):
        out = dl.lead_command(u, y, 0.5, 0.5)
    np.testing.assert_allclose(out, y + (u - y) * k)
    dl.clear()
    rng = np.random.default_rng(0)
    noisy = u + rng.normal(0.0, 1.0, (2000, 2))
    led = np.array([dl.lead_command(x, y, 0.5, 0.5) for x in noisy])
    np.testing.assert_allclose(dl.lead_command(u, y, 0.5), y + (u - y) * k)   # smoothing 1: the plain step
    plain = y + (noisy - y) * k
    assert np.all(led.std(axis=0) < 0.8 * plain.std(axis=0))
    np.testing.assert_allclose(led.mean(axis=0), plain.mean(axis=0), atol=0.2)
