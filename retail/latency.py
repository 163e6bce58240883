"""Latency histograms and percentiles, pure.

`LogHistogram` keeps counts in logarithmic buckets: bucket k holds values in
[lowest * g**k, lowest * g**(k + 1)) with g = 1 + 2 * relative_error, so a quantile read at a
bucket's geometric middle is within `relative_error` of the exact one (HdrHistogram's idea with a
fixed relative precision). Memory is bounded by the range, not the number of samples. Values
below `lowest_seconds` count in the first bucket, above `highest_seconds` in the last.

`WindowedLatency` keeps one histogram per window of intended send time (a minute of the
schedule), which is how the load generator reports: a request belongs to the window in which it
was meant to be sent, however late it was answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from retail.errors import RetailError


@dataclass
class LogHistogram:
    lowest_seconds: float = 1e-4
    highest_seconds: float = 120.0
    relative_error: float = 0.01
    counts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.lowest_seconds < self.highest_seconds:
            raise RetailError("histogram: need 0 < lowest_seconds < highest_seconds")
        if not 0 < self.relative_error < 0.5:
            raise RetailError("histogram: relative_error must be in (0, 0.5)")
        self._log_growth = math.log1p(2 * self.relative_error)
        n = math.ceil(math.log(self.highest_seconds / self.lowest_seconds) / self._log_growth)
        self.counts = np.zeros(n + 1, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def _index(self, seconds: np.ndarray) -> np.ndarray:
        s = np.clip(np.asarray(seconds, dtype=float), self.lowest_seconds, self.highest_seconds)
        k = np.floor(np.log(s / self.lowest_seconds) / self._log_growth).astype(int)
        result: np.ndarray = np.clip(k, 0, len(self.counts) - 1)
        return result

    def record(self, seconds: float | np.ndarray) -> None:
        values = np.atleast_1d(np.asarray(seconds, dtype=float))
        if not np.isfinite(values).all() or (values < 0).any():
            raise RetailError("histogram: latencies must be finite and >= 0")
        np.add.at(self.counts, self._index(values), 1)

    def merge(self, other: LogHistogram) -> None:
        if len(other.counts) != len(self.counts) or other.lowest_seconds != self.lowest_seconds:
            raise RetailError("histogram: can only merge histograms with the same buckets")
        self.counts += other.counts

    def quantile(self, q: float) -> float:
        """The q-quantile (0 < q <= 1), NaN when empty: the geometric middle of the bucket
        holding the ceil(q n)-th smallest value."""
        if not 0 < q <= 1:
            raise RetailError(f"histogram: quantile must be in (0, 1], got {q}")
        n = self.count
        if n == 0:
            return math.nan
        k = int(np.searchsorted(np.cumsum(self.counts), math.ceil(q * n)))
        return self.lowest_seconds * math.exp((k + 0.5) * self._log_growth)


@dataclass
class WindowedLatency:
    """One histogram of answered requests per window, and error counts."""

    window_seconds: float
    histograms: dict[int, LogHistogram] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)

    def record(self, intended_seconds: float, latency_seconds: float, ok: bool) -> None:
        w = int(intended_seconds // self.window_seconds)
        if ok:
            self.histograms.setdefault(w, LogHistogram()).record(latency_seconds)
        else:
            self.errors[w] = self.errors.get(w, 0) + 1

    def windows(self) -> list[int]:
        return sorted(set(self.histograms) | set(self.errors))

    def quantiles(self, q: float) -> dict[int, float]:
        return {w: h.quantile(q) for w, h in sorted(self.histograms.items())}

    def total(self) -> LogHistogram:
        out = LogHistogram()
        for h in self.histograms.values():
            out.merge(h)
        return out
