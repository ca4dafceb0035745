"""Finite-horizon, time-varying LQR for x(t+1) = A_t x + B_t u + c_t with the cost

    sum_t 1/2 (x_t - x_bar_t)^T Q (x_t - x_bar_t) + 1/2 u_t^T R u_t  +  1/2 (x_T - x_bar_T)^T Q_f (...)

Fu, Levine, Abbeel 2015 run it over a short horizon on the fitted local dynamics. Backward Riccati
recursion on the affine system, value V_t(x) = 1/2 x^T P_t x + p_t^T x; returns u_t = K_t x_t + k_t.
"""
from __future__ import annotations

import numpy as np


def lqr(A, B, c, Q, R, x_bar, Q_final=None):
    """A (T, n, n), B (T, n, m), c (T, n), x_bar (T + 1, n) -> (K (T, m, n), k (T, m))."""
    T, n, m = B.shape
    Qf = Q if Q_final is None else Q_final
    P = Qf
    p = -Qf @ x_bar[T]
    K = np.zeros((T, m, n))
    k = np.zeros((T, m))
    for t in range(T - 1, -1, -1):
        At, Bt, ct = A[t], B[t], c[t]
        Quu = R + Bt.T @ P @ Bt
        K[t] = -np.linalg.solve(Quu, Bt.T @ P @ At)
        k[t] = -np.linalg.solve(Quu, Bt.T @ (P @ ct + p))
        Acl = At + Bt @ K[t]
        p = -Q @ x_bar[t] + K[t].T @ R @ k[t] + Acl.T @ (P @ (Bt @ k[t] + ct) + p)
        P = Q + At.T @ P @ Acl
        P = 0.5 * (P + P.T)
    return K, k
