"""Small ReLU MLPs: torch for training, numpy for the control loop.

The torch network is `nn.Sequential(Linear, ReLU, ..., Linear)`, so its state_dict keys are
'0.weight', '0.bias', '2.weight', ... (`state_shapes` names them); the numpy network runs the same
weights without torch in the loop.
"""
from __future__ import annotations

import numpy as np


def torch_mlp(n_in: int, n_out: int, hidden: tuple[int, ...]):
    import torch.nn as nn
    layers, d = [], n_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


def state_shapes(sizes: list[int]) -> dict[str, tuple[int, ...]]:
    """The state_dict of torch_mlp(sizes[0], sizes[-1], sizes[1:-1]): key -> tensor shape."""
    out = {}
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out[f"{2 * i}.weight"], out[f"{2 * i}.bias"] = (d_out, d_in), (d_out,)
    return out


class NumpyMLP:
    """ReLU MLP on normalised inputs/outputs: y = out_std * net((x - in_mean) / in_std) + out_mean.
    The hidden layers run in float32 (as trained): half the time of float64 in the control loop."""

    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]], in_mean, in_std, out_mean, out_std):
        self.W = [np.asarray(w, np.float32) for w, _ in weights]
        self.b = [np.asarray(b, np.float32) for _, b in weights]
        self.in_mean, self.in_std = np.asarray(in_mean), np.asarray(in_std)
        self.out_mean, self.out_std = np.asarray(out_mean), np.asarray(out_std)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = ((x - self.in_mean) / self.in_std).astype(np.float32)
        for W, b in zip(self.W[:-1], self.b[:-1]):
            h = np.maximum(W @ h + b, 0.0)
        return self.out_std * (self.W[-1] @ h + self.b[-1]).astype(np.float64) + self.out_mean

    def value_and_jacobian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y, dy/dx) at x: the linearisation a dynamics prior needs. The Jacobian is accumulated
        from the output side (n_out rows), the cheap order for a narrow output."""
        h = ((x - self.in_mean) / self.in_std).astype(np.float32)
        masks = []
        for W, b in zip(self.W[:-1], self.b[:-1]):
            z = W @ h + b
            masks.append(z > 0)
            h = np.where(masks[-1], z, 0.0)
        y = self.out_std * (self.W[-1] @ h + self.b[-1]) + self.out_mean
        J = self.out_std[:, None].astype(np.float32) * self.W[-1]
        for W, m in zip(reversed(self.W[:-1]), reversed(masks)):
            J = (J * m) @ W
        return y.astype(np.float64), J.astype(np.float64) / self.in_std
