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
