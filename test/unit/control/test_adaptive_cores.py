"""Cores for the adaptive controller (issue 3): each against a closed form or scipy."""
import numpy as np
from scipy.linalg import solve_discrete_are

from sim2real.control.dynamics_prior import NIWPrior, RunningGaussian, condition, posterior
from sim2real.control.local_linear import LinearModel, LocalLinearFit, solve_torque
from sim2real.control.lqr import lqr


def random_system(rng, dx=4, du=2):
    return LinearModel(np.eye(dx) + 0.05 * rng.normal(size=(dx, dx)), rng.normal(size=(dx, du)), rng.normal(size=dx))


def test_local_fit_recovers_a_linear_system_and_falls_back_to_prior():
    rng = np.random.default_rng(0)
    true = random_system(rng)
    prior = LinearModel(np.eye(4), np.zeros((4, 2)), np.zeros(4))
    fit = LocalLinearFit(4, 2, window=60, ridge=1e-8)
    for _ in range(60):
        x, u = rng.normal(size=4), rng.normal(size=2)
        fit.add(x, u, true.predict(x, u))
    est, cond = fit.fit(prior)
    np.testing.assert_allclose(est.stacked(), true.stacked(), atol=1e-5)
    empty = LocalLinearFit(4, 2)
    assert np.array_equal(empty.fit(prior)[0].stacked(), prior.stacked())
    # no excitation (the same sample over and over): the prior fills the unexcited directions
    still = LocalLinearFit(4, 2, window=30, ridge=1e-3)
    x, u = rng.normal(size=4), rng.normal(size=2)
    for _ in range(30):
        still.add(x, u, true.predict(x, u))
    est, cond = still.fit(prior)
    assert cond > 1e6 and np.all(np.isfinite(est.stacked()))
    np.testing.assert_allclose(est.predict(x, u), true.predict(x, u), atol=1e-2)   # fits what it saw


def test_torque_solve_matches_closed_form_and_respects_limits():
    rng = np.random.default_rng(1)
    m = random_system(rng, 4, 4)
    x, x_bar, lam = rng.normal(size=4), rng.normal(size=4), 1e-3
    u = solve_torque(m, x, x_bar, u_max=np.full(4, 1e6), lam=lam)
    r = x_bar - m.J_x @ x - m.c
    closed = np.linalg.solve(m.J_u.T @ m.J_u + lam * np.eye(4), m.J_u.T @ r)
    np.testing.assert_allclose(u, closed, rtol=1e-6, atol=1e-8)
    tight = solve_torque(m, x, 100 * x_bar, u_max=np.full(4, 0.5), lam=lam)
    assert np.all(np.abs(tight) <= 0.5 + 1e-12) and np.any(np.isclose(np.abs(tight), 0.5))


def test_running_gaussian_equals_batch_and_forgets():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 3)) + 1.0
    g = RunningGaussian(3)
    for xi in data:
        g.add(xi)
    np.testing.assert_allclose(g.mean, data.mean(0), atol=1e-12)
    np.testing.assert_allclose(g.cov, np.cov(data.T, bias=True), atol=1e-10)
    f = RunningGaussian(3, gamma=0.9)
    for xi in data:
        f.add(xi)
    w = 0.9 ** np.arange(len(data))[::-1]
    mean = (w[:, None] * data).sum(0) / w.sum()
    np.testing.assert_allclose(f.mean, mean, atol=1e-10)
    np.testing.assert_allclose(f.cov, ((w[:, None] * (data - mean)).T @ (data - mean)) / w.sum(), atol=1e-10)


def test_niw_posterior_limits_and_conditioning_is_regression():
    rng = np.random.default_rng(3)
    dxu, dy = 3, 2
    W = rng.normal(size=(dy, dxu))
    xu = rng.normal(size=(500, dxu))
    y = xu @ W.T + 0.5 + 0.01 * rng.normal(size=(500, dy))
    g = RunningGaussian(dxu + dy)
    for a, b in zip(xu, y):
        g.add(np.concatenate([a, b]))
    weak = NIWPrior(np.zeros(dxu + dy), np.eye(dxu + dy) * 1e-9, m=1e-9, n0=1e-9)
    mu, S = posterior(g, weak)
    np.testing.assert_allclose(mu, g.mean, atol=1e-8)
    np.testing.assert_allclose(S, g.cov, atol=1e-8)
    f_xu, f_c, F = condition(mu, S, dxu)
    np.testing.assert_allclose(f_xu, W, atol=5e-3)
    np.testing.assert_allclose(f_c, 0.5, atol=5e-3)
    strong = NIWPrior(np.ones(dxu + dy) * 7, np.eye(dxu + dy) * 1e6, m=1e9, n0=1e9)
    mu2, _ = posterior(g, strong)
    np.testing.assert_allclose(mu2, 7.0, atol=1e-3)     # a confident prior dominates 500 samples


def test_lqr_long_horizon_matches_scipy_riccati():
    rng = np.random.default_rng(4)
    n, m, T = 4, 2, 400
    A = np.eye(n) + 0.1 * rng.normal(size=(n, n))
    B = rng.normal(size=(n, m))
    Q, R = np.eye(n), 0.1 * np.eye(m)
    K, k = lqr(np.repeat(A[None], T, 0), np.repeat(B[None], T, 0), np.zeros((T, n)), Q, R, np.zeros((T + 1, n)))
    P = solve_discrete_are(A, B, Q, R)
    K_inf = -np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    np.testing.assert_allclose(K[0], K_inf, atol=1e-8)
    np.testing.assert_allclose(k[0], 0, atol=1e-12)


def test_lqr_tracks_an_affine_target():
    """With drift c and a constant target, the closed loop settles at the target (u pays for c)."""
    n, m, T = 2, 2, 200
    A, B, c = np.eye(n), 0.1 * np.eye(m), np.array([0.05, -0.02])
    target = np.array([1.0, -1.0])
    K, k = lqr(np.repeat(A[None], T, 0), np.repeat(B[None], T, 0), np.repeat(c[None], T, 0),
               np.eye(n), 1e-6 * np.eye(m), np.repeat(target[None], T + 1, 0))
    x = np.zeros(n)
    for t in range(50):
        x = A @ x + B @ (K[t] @ x + k[t]) + c
    np.testing.assert_allclose(x, target, atol=1e-3)
