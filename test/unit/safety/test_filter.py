"""The safety filter against adversarial commands: nothing outside the limits gets out."""
import numpy as np
import pytest

from sim2real.safety.filter import SafetyFilter


@pytest.fixture
def f(jaco):
    return SafetyFilter(jaco)


def test_nan_and_wrong_size_become_the_hold(f, jaco):
    q, qd = jaco.home.copy(), np.zeros(7)
    for bad in (np.full(7, np.nan), np.array([np.inf] + [0] * 6), np.zeros(3), np.zeros(9)):
        tau, reasons = f.filter(bad, q, qd)
        assert np.all(np.isfinite(tau)) and reasons
        np.testing.assert_allclose(tau, 0, atol=1e-12)   # at the latched position, no motion: zero
    tau = f.hold(q + 0.1, np.zeros(7))                   # pushed away: pulls back to the latch
    assert np.all(tau < 0)


def test_effort_clipped(f, jaco):
    tau, reasons = f.filter(np.full(7, 1e6), jaco.home, np.zeros(7))
    np.testing.assert_allclose(tau, jaco.effort_limit)
    assert "effort limit" in reasons


def test_position_wall_pushes_back(f, jaco):
    q = jaco.home.copy()
    q[1] = jaco.position_upper[1] - 0.01           # inside the margin
    tau, reasons = f.filter(np.full(7, 5.0), q, np.zeros(7))
    assert tau[1] < 0 and "position limit" in reasons
    assert tau[0] == 5.0                           # continuous joints are never walled


def test_velocity_brake(f, jaco):
    qd = np.zeros(7)
    qd[4] = 2 * jaco.velocity_limit[4]
    tau, reasons = f.filter(np.full(7, 1.0), jaco.home, qd)
    assert tau[4] < 0 and "velocity limit" in reasons


def test_over_speed_damper_is_set_for_the_loop_delay(jaco):
    """Through a long loop delay a stiff damper on the measured velocity rings (it drove joints to
    15-31x their limit at ~36 ms): its gain falls as (DAMPER_DELAY_S / delay)^2 past DAMPER_DELAY_S."""
    from sim2real.safety.filter import DAMPER_DELAY_S, SafetyFilter
    qd = np.zeros(7)
    qd[4] = 2 * jaco.velocity_limit[4]
    brake = {d: -SafetyFilter(jaco, loop_delay_s=d).filter(np.zeros(7), jaco.home, qd)[0][4]
             for d in (0.0, DAMPER_DELAY_S, 2 * DAMPER_DELAY_S, 0.036)}
    assert brake[0.0] == brake[DAMPER_DELAY_S] > 0
    assert brake[2 * DAMPER_DELAY_S] == pytest.approx(brake[0.0] / 4)
    assert 0 < brake[0.036] < brake[0.0] / 30


def test_hold_with_nan_state_is_zero_torque(f):
    np.testing.assert_array_equal(f.hold(np.full(7, np.nan), np.zeros(7)), 0.0)


def test_random_adversarial_commands_stay_in_limits(f, jaco):
    rng = np.random.default_rng(0)
    for _ in range(500):
        tau = rng.normal(0, 100, 7)
        tau[rng.random(7) < 0.05] = np.nan
        q = rng.uniform(-3, 3, 7)
        qd = rng.normal(0, 2, 7)
        out, _ = f.filter(tau, q, qd)
        assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= jaco.effort_limit + 1e-9)


def test_governor_caps_torque_along_the_motion_before_the_velocity_limit(f, jaco):
    lim = jaco.effort_limit[1]
    qd = np.zeros(7)
    qd[1] = 0.92 * jaco.velocity_limit[1]             # 20% into the governor band (0.9..1.0)
    tau, reasons = f.filter(np.full(7, 1e3), jaco.home, qd)
    assert tau[1] == pytest.approx(0.8 * lim) and "velocity limit" in reasons
    qd[1] = jaco.velocity_limit[1]                    # at the limit: nothing along the motion
    tau, _ = f.filter(np.full(7, 1e3), jaco.home, qd)
    assert tau[1] == pytest.approx(0.0)
    qd[1] = 1.5 * jaco.velocity_limit[1]              # above it: braking
    tau, _ = f.filter(np.full(7, 1e3), jaco.home, qd)
    assert tau[1] < 0
    qd[1] = -0.5 * jaco.velocity_limit[1]             # below the band: untouched
    tau, _ = f.filter(np.full(7, -5.0), jaco.home, qd)
    assert tau[1] == -5.0


def test_clamp_desired(f, jaco):
    q = jaco.home.copy()
    q[1] = 1e300
    qd = np.zeros(7)
    qd[3] = -50.0
    qc, qdc, changed = f.clamp_desired(q, qd)
    assert changed and qc[1] == pytest.approx(jaco.position_upper[1] - jaco.safety.position_margin)
    assert qdc[3] == pytest.approx(-jaco.velocity_limit[3] * jaco.safety.velocity_scale)
    _, _, changed = f.clamp_desired(jaco.home, np.zeros(7))
    assert not changed


def test_position_targets_for_pd_robots():
    from sim2real.robots import load_robot
    go1 = load_robot("go1")
    f = SafetyFilter(go1)
    q, qd = go1.home.copy(), np.zeros(go1.n)
    out, reasons = f.filter(go1.home + 5.0, q, qd)             # far past the reach of the joint PD
    tau = go1.pd_kp * (out - q) - go1.pd_kd * qd
    assert np.all(np.abs(tau) <= go1.effort_limit + 1e-9) and "effort limit" in reasons
    out, reasons = f.filter(np.full(go1.n, 1e3), q, qd)
    assert np.all(out <= go1.position_upper - go1.safety.position_margin + 1e-12)
    held, reasons = f.filter(np.full(go1.n, np.nan), q, qd)    # NaN: hold the last target let through
    np.testing.assert_allclose(held, out) and reasons
    np.testing.assert_allclose(f.hold(q + 0.2, qd), out)        # latched, whatever the joints do now
    fresh = SafetyFilter(go1)
    np.testing.assert_allclose(fresh.hold(q + 0.2, qd), q + 0.2)   # nothing passed yet: the measured pose


def test_loop_delay_measured_at_run_time_softens_the_damper(jaco):
    from sim2real.safety.filter import LoopDelay
    f = SafetyFilter(jaco)
    full = f.kd_over.copy()
    d = LoopDelay(0.0)
    for k in range(100):                       # a healthy loop: a command answers every 2 ms state
        d.observe(0.002 * k + 0.0005, 0.002 * (k - 1))       # 2.5 ms old: 5 ms both ways
        assert d.update() is None              # within the full-gain band: nothing to change
    for k in range(100, 150):                  # commands stop coming for 30 ms at a time
        d.observe(0.002 * k + 0.0005, 0.002 * (k - k % 15))
        new = d.update()
        if new is not None:
            f.set_loop_delay(new)
    assert d.delay() == pytest.approx(2 * 0.0285, abs=4e-3)
    np.testing.assert_allclose(f.kd_over, full * (0.006 / f.loop_delay_s) ** 2)
    assert f.gov == pytest.approx((0.006 / f.loop_delay_s) ** 2)
    for k in range(150, 2650):                 # healthy again for 5 s: the peak is released
        d.observe(0.002 * k + 0.0005, 0.002 * (k - 1))
        new = d.update()
        if new is not None:
            f.set_loop_delay(new)
    assert d.delay() < 0.006 and np.allclose(f.kd_over, full) and f.gov == 1.0
    told = LoopDelay(0.036)                    # the configured delay is a floor
    told.observe(1.0, 0.995)
    assert told.delay() == 0.036 and told.update() is None
    told.observe(3.0, 2.5)                     # 0.5 s without a command: an outage, not a delay
    told.observe(2.0, 1.99)                    # a clock that went back, NaN: ignored
    told.observe(2.0, float("nan"))
    assert told.delay() == 0.036
