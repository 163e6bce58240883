"""Latency up to saturation: exact Erlang C below utilisation 1, no clamp; at and above 1 the
queueing part is unbounded (the outcome model caps it at its timeout and adds the backlog)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.queueing import response_time


@pytest.mark.parametrize("rho", [0.9, 0.98, 0.99, 0.999])
def test_single_server_is_exact_right_up_to_saturation(rho: float) -> None:
    mu = 10.0
    rt = response_time(np.array([1.0]), np.array([rho * mu]), np.array([mu]))
    theta = mu * (1 - rho)  # M/M/1: R ~ Exp(mu - lam)
    assert rt.mean[0] == pytest.approx(1 / theta, rel=1e-9)
    assert rt.p95[0] == pytest.approx(-np.log(0.05) / theta, rel=1e-6)


def test_latency_grows_monotonically_into_saturation() -> None:
    mu, servers = 15.0, np.full(6, 8.0)
    rho = np.array([0.95, 0.98, 0.99, 0.995, 1.0, 1.2])
    rt = response_time(servers, rho * servers * mu, np.full(6, mu))
    assert np.all(np.diff(rt.mean[:5]) > 0) and np.all(np.diff(rt.p95[:5]) > 0)
    assert np.isinf(rt.mean[4:]).all() and np.isinf(rt.p95[4:]).all()


def test_slowest_path_p95_solves_the_mixture_tail() -> None:
    """At the p95 the slowest path's mixture tail is 5%, every other path's at most 5%, on the
    boutique's paths at loads from idle to near saturation; the Halley solver is within 0.05% of
    a tight solve (and of the bisection it replaced, whose own error is ~0.05%)."""
    from scipy.special import gammaincc

    from envs import path_latency as pl
    from envs.capacity import required_replicas
    from envs.scenario import load_scenario

    config = load_scenario("black-friday").config()
    rng = np.random.default_rng(0)
    level = rng.uniform(20, 2500, 4000)
    replicas = required_replicas(config, level * rng.uniform(0.6, 1.05, len(level)))
    rt = response_time(replicas * config.graph.array("concurrency"),
                       level[:, None] * config.visit_ratios[None],
                       1000.0 / config.graph.array("service_time_ms"), p95=False)
    mean, var = np.minimum(rt.mean, 30.0), np.minimum(rt.var, 900.0)
    mix = config.path_mixture
    slowest = pl.SlowestPath(mix, mean, var)
    p95 = slowest.p95()
    # the tail from scratch: every path's mixture over its prefix sums (dense form)
    m = mean @ mix.prefix + mix.rtt_seconds
    v = var @ mix.prefix
    shape, scale = np.clip(m**2 / v, 0.5, 1e6), v / m

    def tail(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = gammaincc(shape, x[:, None] / scale) @ mix.weight.T
        return out

    assert np.all(tail(p95).max(axis=1) == pytest.approx(0.05, abs=1e-4))
    assert np.all(tail(p95 * 1.0005).max(axis=1) <= 0.05)
    assert np.all(tail(p95 / 1.0005).max(axis=1) >= 0.05)
    ref = slowest.p95(pl.PathSolver.BISECTION)
    assert np.max(np.abs(p95 / ref - 1)) < 1e-3
    np.testing.assert_allclose(slowest.within(0.4),
                               1 - np.clip(tail(np.full(len(p95), 0.4)), 0, 1).max(axis=1),
                               rtol=0, atol=1e-12)
