"""Online local linear dynamics and the torque that reaches a desired next state.

Mordatch, Mishra, Eppner, Abbeel 2015, "Combining model-based policy search with online model
learning for control of physical humanoids": at every control step fit

    x(t+1) = J_x x(t) + J_u u(t) + c                                   (local linear model)

to the most recent transitions, then choose the torque

    u* = argmin_u  1/2 || J_x x(t) + J_u u + c - x_bar(t+1) ||^2 + lambda/2 || u - u_ref ||^2
         s.t.      -u_max <= u <= u_max                                 (torque limits)

x = [q, qd] (2n,), u = tau (n,). The fit is ridge-regularised toward a prior model (the nominal
model's linearisation), so a window without excitation returns the prior instead of noise.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear


@dataclass
class LinearModel:
    J_x: np.ndarray   # (dx, dx)
    J_u: np.ndarray   # (dx, du)
    c: np.ndarray     # (dx,)

    def predict(self, x, u) -> np.ndarray:
        return self.J_x @ x + self.J_u @ u + self.c

    def stacked(self) -> np.ndarray:
        """[J_x J_u c] as one (dx, dx + du + 1) matrix."""
        return np.hstack([self.J_x, self.J_u, self.c[:, None]])

    @classmethod
    def from_stacked(cls, W: np.ndarray, dx: int, du: int) -> "LinearModel":
        return cls(W[:, :dx].copy(), W[:, dx:dx + du].copy(), W[:, dx + du].copy())


class LocalLinearFit:
    """Sliding-window ridge regression of (x, u) -> x', toward a prior model."""

    def __init__(self, dx: int, du: int, window: int = 50, ridge: float = 1e-3):
        self.dx, self.du, self.ridge = dx, du, ridge
        self.data: deque = deque(maxlen=window)

    def add(self, x, u, x_next) -> None:
        self.data.append((np.asarray(x, float), np.asarray(u, float), np.asarray(x_next, float)))

    def fit(self, prior: LinearModel) -> tuple[LinearModel, float]:
        """(model, condition number of the regressor Gram matrix). Closed form:

            W = (X'^T Z + r W0) (Z^T Z + r I)^-1,  Z = [x u 1] rows, W0 the prior's [J_x J_u c]
        """
        W0 = prior.stacked()
        if not self.data:
            return prior, np.inf
        Z = np.array([np.concatenate([x, u, [1.0]]) for x, u, _ in self.data])   # (N, dx+du+1)
        Xn = np.array([xn for _, _, xn in self.data])                          # (N, dx)
        G = Z.T @ Z
        r = self.ridge * max(1.0, np.trace(G) / G.shape[0])
        A = G + r * np.eye(G.shape[0])
        W = np.linalg.solve(A.T, (Xn.T @ Z + r * W0).T).T
        return LinearModel.from_stacked(W, self.dx, self.du), float(np.linalg.cond(G))


def solve_torque(model: LinearModel, x, x_bar, u_max, lam: float = 1e-4, u_ref=None) -> np.ndarray:
    """u* of the box-constrained regularised least squares above (scipy's bounded solver)."""
    u_ref = np.zeros(model.J_u.shape[1]) if u_ref is None else np.asarray(u_ref, float)
    r = x_bar - model.J_x @ x - model.c                      # what the torque must produce
    A = np.vstack([model.J_u, np.sqrt(lam) * np.eye(len(u_ref))])
    b = np.concatenate([r, np.sqrt(lam) * u_ref])
    u_max = np.asarray(u_max, float)
    return lsq_linear(A, b, bounds=(-u_max, u_max), method="bvls").x
