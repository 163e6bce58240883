"""Request-based SLIs of the twin agree with its per-tick p95 and dropped-request figures."""

import numpy as np
import pytest

from envs.scenario import load_scenario
from envs.sli import BUCKETS_SECONDS, request_counts, slo_buckets
from envs.twin import run_schedule
from evaluation.compare import run_bench


@pytest.fixture(scope="module")
def flash():  # type: ignore[no-untyped-def]
    return run_bench(load_scenario("flash-sale"), ["hpa", "static-peak"], 0, jobs=1)


def test_attainment_is_request_weighted_and_consistent(flash) -> None:  # type: ignore[no-untyped-def]
    sc = flash.scenario
    for ep in flash.episodes:
        s = ep.summary
        assert s.requests == pytest.approx(float(flash.run_rps.sum()) * sc.tick_seconds)
        assert 1 - s.availability_attainment == pytest.approx(s.dropped_requests / s.requests,
                                                              abs=1e-6)
        assert 0.0 <= s.latency_attainment <= 1.0
    by = {ep.policy: ep.summary for ep in flash.episodes}
    assert by["static-peak"].slo_violation_minutes == 0  # every tick: p95 within the SLO
    assert by["static-peak"].latency_attainment >= 0.95  # so 95% of requests at least
    assert by["static-peak"].latency_attainment >= by["hpa"].latency_attainment


def test_buckets_are_cumulative(flash) -> None:  # type: ignore[no-untyped-def]
    sc, ep = flash.scenario, flash.episodes[0]
    config = sc.config()
    counts = request_counts(config, flash.run_rps, ep.trajectory)
    assert counts.buckets_seconds == BUCKETS_SECONDS
    assert np.all(np.diff(counts.within, axis=1) >= -1e-9)
    assert np.all(counts.within <= counts.requests[:, None] + 1e-9)
    # A tick whose p95 is under a bucket has at least 95% of its requests in it.
    j = BUCKETS_SECONDS.index(1.0)
    fast = ep.metrics.e2e_p95_ms < 1000.0
    share = counts.within[fast, j] / counts.requests[fast]
    assert share.min() >= 0.94
    assert ep.summary.latency_attainment == pytest.approx(
        request_counts(config, flash.run_rps, ep.trajectory,
                       (sc.slo.p95_latency_ms / 1000,)).share_within(sc.slo.p95_latency_ms / 1000))


def test_slo_threshold_becomes_a_bucket() -> None:
    assert 0.25 in slo_buckets(0.25) and len(slo_buckets(0.3)) == len(BUCKETS_SECONDS)


def test_open_loop_counts_match_closed_loop(flash) -> None:  # type: ignore[no-untyped-def]
    sc, ep = flash.scenario, flash.episodes[0]
    traj = run_schedule(sc.config(), flash.run_rps, ep.trajectory.desired,
                        ep.trajectory.desired[0])
    a = request_counts(sc.config(), flash.run_rps, ep.trajectory)
    b = request_counts(sc.config(), flash.run_rps, traj)
    assert np.allclose(a.within, b.within) and np.allclose(a.errors, b.errors)
