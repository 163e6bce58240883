"""Per-service latency from an M/M/c (Erlang C) queue, vectorized over services and ticks.

A service with `servers` = ready replicas x concurrency workers, each serving at `mu` requests per
second, offered `lam` requests per second: the response time is R = S + W with S ~ Exp(mu) and
W = 0 with probability 1 - C, else Exp(theta), theta = servers * mu - lam, C the Erlang C
probability of waiting. Everything here is closed form (and a few Newton steps for the p95), so
a simulated year of a 12-service app is a handful of numpy passes.

Below saturation the formulas are exact up to utilisation 1 (no clamp: at rho 0.99 a single
server waits 99 service times on average, as Erlang C says). At and above 1 there is no steady
state: the twin tracks the excess as a fluid backlog (see `envs/twin.py`) whose drain time the
caller adds, and the queueing part is the limit from below, an unbounded wait, which the outcome
model caps at its timeout (`envs/outcome.py`), so latency is continuous and monotone in load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincc, gammaln

TAIL = 0.05  # 1 - 0.95: the p95


def erlang_c(servers: np.ndarray, offered_erlangs: np.ndarray) -> np.ndarray:
    """Probability that an arrival waits, for `servers` workers and offered load a = lam / mu.

    Uses Erlang B = Poisson pmf(c; a) / cdf(c; a) (with the regularized incomplete gamma, stable
    for thousands of servers), then C = c B / (c - a (1 - B)). C = 1 when a >= c.
    """
    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered_erlangs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_pmf = c * np.log(np.maximum(a, 1e-300)) - a - gammaln(c + 1.0)
        cdf = gammaincc(c + 1.0, a)
        b = np.exp(log_pmf) / np.maximum(cdf, 1e-300)
        result = c * b / (c - a * (1.0 - b))
    result = np.where(a <= 0, 0.0, result)
    result = np.where((a >= c) | (c <= 0), 1.0, result)
    return np.clip(result, 0.0, 1.0)


@dataclass(frozen=True)
class ResponseTime:
    """Moments and p95 of the response time, in seconds (arrays of one shape)."""

    mean: np.ndarray
    var: np.ndarray
    p95: np.ndarray


def _tail(
    x: np.ndarray, mu: np.ndarray, theta: np.ndarray, c_wait: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P(R > x) and its derivative in x, for R = Exp(mu) + [wait w.p. c_wait] Exp(theta)."""
    es = np.exp(-mu * x)
    et = np.exp(-theta * x)
    d = theta - mu
    close = np.abs(d) < 1e-9 * mu
    inv_d = 1.0 / np.where(close, 1.0, d)
    hypo = np.where(close, es * (1.0 + mu * x), (theta * es - mu * et) * inv_d)
    hypo_slope = np.where(close, -mu * mu * x * es, mu * theta * (et - es) * inv_d)
    tail = (1.0 - c_wait) * es + c_wait * hypo
    slope = -(1.0 - c_wait) * mu * es + c_wait * hypo_slope
    return tail, slope


NEWTON_STEPS = 5  # converges to ~1e-13 relative error from the upper start (tested)


def response_time(
    servers: np.ndarray, rate_rps: np.ndarray, service_rate: np.ndarray, *, p95: bool = True
) -> ResponseTime:
    """Mean, variance and (if `p95`, else NaN) p95 of the M/M/c response time, in seconds.

    Exact for utilisation < 1; at or above 1 (and with no servers) the result is +inf: callers
    cap it and add the fluid backlog's drain time.
    """
    c = np.asarray(servers, dtype=float)
    mu = np.broadcast_to(np.asarray(service_rate, dtype=float), c.shape)
    lam = np.broadcast_to(np.asarray(rate_rps, dtype=float), c.shape)
    saturated = lam >= c * mu
    lam = np.where(saturated, 0.0, lam)  # evaluated as idle, then replaced by +inf below
    c_wait = erlang_c(c, lam / mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.maximum(c * mu - lam, 1e-12)
        mean = 1.0 / mu + c_wait / theta
        var = 1.0 / mu**2 + c_wait * (2.0 - c_wait) / theta**2
    none = (c <= 0) | saturated
    if not p95:
        nan = np.full(c.shape, np.nan)
        return ResponseTime(np.where(none, np.inf, mean), np.where(none, np.inf, var), nan)
    # Newton on log P(R > x) = log 0.05 from above: the log-tail is concave, so from an upper
    # start every step stays an upper bound and converges monotonically.
    x = -np.log(TAIL) * (1.0 / mu + np.where(c_wait > 0, 1.0 / theta, 0.0))
    for _ in range(NEWTON_STEPS):
        tail, slope = _tail(x, mu, theta, c_wait)
        tail = np.maximum(tail, 1e-300)
        x = np.maximum(x - (np.log(tail) - np.log(TAIL)) / np.minimum(slope / tail, -1e-12), 0.0)
    return ResponseTime(
        mean=np.where(none, np.inf, mean),
        var=np.where(none, np.inf, var),
        p95=np.where(none, np.inf, x),
    )


Z95 = 1.6448536269514722


def gamma_p95(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """p95 of a gamma distribution with these moments (Wilson-Hilferty; within ~1% for shape
    >= 1), used for sums along a call path. Increasing in both the mean and the variance."""
    mean = np.asarray(mean, dtype=float)
    var = np.maximum(np.asarray(var, dtype=float), 1e-18)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.clip(mean**2 / var, 0.5, 1e6)
        root = 1.0 - 1.0 / (9.0 * shape) + Z95 / (3.0 * np.sqrt(shape))
        result: np.ndarray = mean * root**3
    return np.where(np.isfinite(mean), result, np.inf)
