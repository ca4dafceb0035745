"""Per-feature standardisation: networks see zero-mean, unit-variance inputs and targets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray   # (d,)
    std: np.ndarray    # (d,) > 0

    @classmethod
    def fit(cls, x: np.ndarray, eps: float = 1e-6) -> "Standardizer":
        """From samples (N, d); eps keeps a constant feature's scale finite."""
        return cls(x.mean(0), x.std(0) + eps)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


def norm_dict(inp: Standardizer, out: Standardizer) -> dict:
    """The checkpoint metadata's `norm` (see checkpoint.py)."""
    return {"in_mean": inp.mean, "in_std": inp.std, "out_mean": out.mean, "out_std": out.std}
