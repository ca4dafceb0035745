"""A fixed-bin latency histogram: O(1) to add, percentiles without keeping every sample, so a
10-minute 500 Hz run can report its p99 from inside a control loop."""
from __future__ import annotations

import numpy as np


class LatencyHistogram:
    def __init__(self, bin_s: float = 1e-5, max_s: float = 0.1):
        self.bin = bin_s
        self.counts = np.zeros(int(max_s / bin_s) + 1, dtype=np.int64)
        self.n = 0
        self.max = 0.0

    def add(self, x: float) -> None:
        i = min(int(max(x, 0.0) / self.bin), len(self.counts) - 1)
        self.counts[i] += 1
        self.n += 1
        if x > self.max:
            self.max = x

    def percentile(self, q: float) -> float:
        if not self.n:
            return float("nan")
        k = np.searchsorted(np.cumsum(self.counts), q / 100.0 * self.n)
        return (k + 1) * self.bin   # upper edge of the bin: never optimistic
