"""Request-based SLIs of a twin run: how many requests, how many failed, how many were answered
within each latency bucket boundary, per tick.

These are the counters a real service exports (`edgewise_requests_total`,
`edgewise_request_errors_total`, the buckets of `edgewise_request_duration_seconds`), so the same
SLO math runs on the twin's own figures and on Prometheus (`slo/`). The end-to-end latency of a
request is that of its slowest call path, the exact mixture over where a request stops of a gamma
per prefix sum (`envs/path_latency.py`, as for the p95 in `envs/outcome.py`); its share within x
is that mixture's CDF at x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.twin_config import Trajectory, TwinConfig

BUCKETS_SECONDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
CHUNK_TICKS = 16_384


@dataclass(frozen=True)
class RequestCounts:
    """Per tick: requests offered, requests failed, and requests within each bucket (columns in
    the order of `buckets_seconds`)."""

    buckets_seconds: tuple[float, ...]
    requests: np.ndarray
    errors: np.ndarray
    within: np.ndarray

    def share_within(self, seconds: float) -> float:
        """Requests within `seconds` over all requests (a bucket boundary), over the run."""
        j = self.buckets_seconds.index(seconds)
        total = float(self.requests.sum())
        return float(self.within[:, j].sum()) / total if total > 0 else 1.0

    def share_ok(self) -> float:
        total = float(self.requests.sum())
        return 1.0 - float(self.errors.sum()) / total if total > 0 else 1.0


def _chunk(config: TwinConfig, rates: np.ndarray, traj: Trajectory,
           buckets: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    from envs.outcome import request_moments, within_shares  # outcome imports this module's users

    mean, var, error = request_moments(config, rates, traj)
    within = within_shares(config, buckets, mean, var)
    return within, error


def request_counts(config: TwinConfig, entry_rps: np.ndarray, traj: Trajectory,
                   buckets_seconds: tuple[float, ...] = BUCKETS_SECONDS) -> RequestCounts:
    entry = np.asarray(entry_rps, dtype=float)
    rates = entry[:, None] * config.visit_ratios[None, :]
    parts = [_chunk(config, rates[lo : lo + CHUNK_TICKS], traj.part(slice(lo, lo + CHUNK_TICKS)),
                    buckets_seconds) for lo in range(0, len(entry), CHUNK_TICKS)]
    requests = entry * config.tick_seconds
    if not parts:
        empty = np.zeros((0, len(buckets_seconds)))
        return RequestCounts(buckets_seconds, requests, np.zeros(0), empty)
    within = np.concatenate([p[0] for p in parts]) * requests[:, None]
    errors = np.concatenate([p[1] for p in parts]) * requests
    return RequestCounts(buckets_seconds, requests, errors, within)


def slo_buckets(threshold_seconds: float) -> tuple[float, ...]:
    """The standard buckets, with the SLO's threshold as one of them."""
    return tuple(sorted({*BUCKETS_SECONDS, float(threshold_seconds)}))
