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


def test_path_mixture_p95_solves_the_mixture_tail() -> None:
    """At the p95 the mixture's tail is 5% (to 0.1%), on the boutique's paths at loads from
    idle to near saturation."""
    from scipy.special import gammaincc

    from envs.capacity import required_replicas
    from envs.path_latency import mixture_p95
    from envs.scenario import load_scenario

    config = load_scenario("black-friday").config()
    rng = np.random.default_rng(0)
    level = rng.uniform(20, 2500, 2000)
    replicas = required_replicas(config, level * rng.uniform(0.8, 1.0, len(level)))
    rt = response_time(replicas * config.graph.array("concurrency"),
                       level[:, None] * config.visit_ratios[None],
                       1000.0 / config.graph.array("service_time_ms"), p95=False)
    mean, var = np.minimum(rt.mean, 30.0), np.minimum(rt.var, 900.0)
    mix = config.path_mixture
    p95 = mixture_p95(mix, mean, var)
    n_s, n_p, k = mix.prefix.shape
    m = (mean @ mix.prefix.reshape(n_s, -1)).reshape(-1, n_p, k) + mix.rtt_seconds[None]
    v = np.maximum((var @ mix.prefix.reshape(n_s, -1)).reshape(-1, n_p, k), 1e-18)
    w = mix.weight[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(w > 0, w * gammaincc(np.clip(m**2 / v, 0.5, 1e6),
                                             p95[..., None] * 1.001 / (v / m)), 0).sum(axis=2)
        below = np.where(w > 0, w * gammaincc(np.clip(m**2 / v, 0.5, 1e6),
                                              p95[..., None] * 0.999 / (v / m)), 0).sum(axis=2)
    assert np.all(tail <= 0.05) and np.all(below >= 0.05)
