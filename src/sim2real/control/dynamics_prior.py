"""Bayesian online linearisation with a normal-inverse-Wishart prior (Fu, Levine, Abbeel 2015,
"One-shot learning of manipulation skills with online dynamics adaptation and neural network
priors", Algorithm 1, the dynamics-fitting steps).

Running mean and covariance of the joint vector xi = [x; u; x'] with forgetting factor gamma
(empirical estimate), combined with a prior (mu0, Phi, m, n0) from a global model:

    mu    = (m mu0 + n_eff mu_hat) / (m + n_eff)
    Sigma = (Phi + n_eff Sigma_hat + (m n_eff / (m + n_eff)) (mu_hat - mu0)(mu_hat - mu0)^T) / (n_eff + n0)

then condition the Gaussian on [x; u] to get the linear dynamics f_xu, f_c and the noise F:
    f_xu = Sigma_{x',xu} Sigma_{xu,xu}^-1,  f_c = mu_x' - f_xu mu_xu,  F = Sigma_{x',x'} - f_xu Sigma_{xu,x'}
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class RunningGaussian:
    """Mean and covariance of a stream with exponential forgetting (gamma = 1: plain batch)."""

    def __init__(self, dim: int, gamma: float = 1.0):
        self.gamma = gamma
        self.w = 0.0                     # effective sample count
        self.mean = np.zeros(dim)
        self._m2 = np.zeros((dim, dim))  # weighted sum of outer products of deviations

    def add(self, xi) -> None:
        xi = np.asarray(xi, float)
        self.w = self.gamma * self.w + 1.0
        self._m2 *= self.gamma
        d = xi - self.mean
        self.mean = self.mean + d / self.w
        self._m2 += np.outer(d, xi - self.mean)   # West's weighted update

    @property
    def cov(self) -> np.ndarray:
        """Maximum-likelihood covariance (divides by the effective count)."""
        return self._m2 / self.w if self.w > 0 else np.zeros_like(self._m2)


@dataclass
class NIWPrior:
    mu0: np.ndarray
    Phi: np.ndarray
    m: float
    n0: float


def posterior(stats: RunningGaussian, prior: NIWPrior) -> tuple[np.ndarray, np.ndarray]:
    """(mu, Sigma) of the normal-inverse-Wishart posterior."""
    n = stats.w
    d = stats.mean - prior.mu0
    mu = (prior.m * prior.mu0 + n * stats.mean) / (prior.m + n)
    Sigma = (prior.Phi + n * stats.cov + (prior.m * n / (prior.m + n)) * np.outer(d, d)) / (n + prior.n0)
    return mu, Sigma


def condition(mu: np.ndarray, Sigma: np.ndarray, dxu: int, reg: float = 1e-6):
    """(f_xu (dx', dxu), f_c (dx',), F (dx', dx')) of x' | [x; u] for a joint Gaussian on [xu; x']."""
    S_xx = Sigma[:dxu, :dxu] + reg * np.eye(dxu)
    S_yx = Sigma[dxu:, :dxu]
    f_xu = np.linalg.solve(S_xx, S_yx.T).T
    f_c = mu[dxu:] - f_xu @ mu[:dxu]
    F = Sigma[dxu:, dxu:] - f_xu @ S_yx.T
    return f_xu, f_c, 0.5 * (F + F.T)
