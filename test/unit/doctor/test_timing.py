"""Round trip, actuator lag and torque gain from what a torque-sensing driver reports."""
import numpy as np
import pytest

from sim2real.doctor import timing

DT = 0.002


def synthetic(delay_s, lag_s, gain, n=3, seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, DT)
    cmd = np.zeros((len(t), n))
    for k in range(n):
        for ts in (0.3 + 0.4 * k, 0.5 + 0.4 * k):
            cmd[(t >= ts) & (t < ts + 0.03), k] = 1.0 + k
    u = timing.lag(np.vstack([np.zeros((int(round(delay_s / DT)), n)), cmd])[: len(t)], lag_s, DT)
    eff = gain * u + 0.01 * rng.standard_normal(u.shape)
    return t, cmd, eff


@pytest.mark.parametrize("delay_s,lag_s", [(0.008, 0.0), (0.04, 0.02), (0.03, 0.01)])
def test_fit_loop_recovers_delay_lag_and_gains(delay_s, lag_s):
    t, cmd, eff = synthetic(delay_s, lag_s, np.array([1.0, 0.6, 1.4]))
    fit = timing.fit_loop(t, cmd, eff, [(0.25, 1.9)], DT)
    assert fit.delay_s == pytest.approx(delay_s, abs=DT + 1e-9)
    assert fit.lag_s == pytest.approx(lag_s, abs=0.003)
    np.testing.assert_allclose(fit.gain, [1.0, 0.6, 1.4], rtol=0.05)


def test_late_answers_are_placed_when_they_left():
    """A loaded machine answers some states late: by the stamp they answered, those commands look
    like more delay; by when they left (t_cmd), the loop's own delay comes back."""
    t, cmd, _ = synthetic(0.0, 0.0, 1.0, n=1)
    late = np.where((t > 0.29) & (t < 0.4), 0.012, 0.0)     # the pulse's answers left 12 ms late
    t_cmd = t + late
    # what the motor saw: the commands when they left, then a 10 ms loop
    idx = np.round(t_cmd / DT).astype(int)
    u = timing.zoh(idx, cmd, len(t))
    eff = np.vstack([np.zeros((5, 1)), u])[: len(t)]
    assert timing.fit_slot(t, cmd, eff, [(0.25, 0.45)], DT, 0, t_cmd=t_cmd)[0] == pytest.approx(0.010, abs=1e-9)
    assert timing.fit_slot(t, cmd, eff, [(0.25, 0.45)], DT, 0)[0] > 0.015


def test_hold_bandwidth_leaves_the_phase_margin():
    assert timing.hold_bandwidth(0.0, 0.0) == pytest.approx(timing.MAX_HOLD_W)
    ws = [timing.hold_bandwidth(d, 0.02) for d in (0.03, 0.04, 0.06, 0.08)]
    assert all(a > b for a, b in zip(ws, ws[1:]))
    w = timing.hold_bandwidth(0.04, 0.02)
    wc = timing.CROSSOVER * w
    assert 0.04 * wc + np.arctan(0.02 * wc) == pytest.approx(timing.DELAY_PHASE, abs=1e-3)


def test_takeover_reads_a_weak_motor_from_the_brakes_torque():
    t = np.arange(0, 0.3, DT)
    brake, g, L = -10.0, 0.6, 15      # the driver held with 10 N m; ours, 0.6 x, 30 ms later
    cmd = np.where(t >= 0.05, brake, np.nan)
    u = np.where(t >= 0.05 + L * DT, g * brake, brake)
    eff = timing.lag(u, 0.01, DT)
    d, lag, gk, r2 = timing.fit_takeover(t, cmd, eff, 0.05, brake, DT)
    assert gk == pytest.approx(g, rel=0.02) and d == pytest.approx(L * DT, abs=DT + 1e-9) and r2 > 0.99
