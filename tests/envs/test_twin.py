"""The twin's dynamics: start-up delay, backlog and drops, closed loop == open loop."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from envs.graph import parse_graph
from envs.observation import Slo
from envs.outcome import tick_metrics
from envs.twin import Twin, run_schedule
from envs.twin_config import TwinConfig

START = datetime(2026, 11, 23)
ONE = parse_graph(
    {
        "entry": "web",
        "services": {
            "web": {
                "capacity_rps": 10,
                "startup_seconds": 150,
                "min_replicas": 1,
                "max_replicas": 50,
                "queue_limit_per_replica": 100,
            }
        },
    }
)
CONFIG = TwinConfig(ONE, Slo(500.0, 0.01), tick_seconds=60)


def test_pods_serve_after_their_startup_ticks_and_scale_down_removes_newest_first() -> None:
    twin = Twin(CONFIG, np.full(8, 5.0), START)
    twin.reset(np.array([2]))
    for d in (5, 5, 5, 5, 3, 8, 8, 8):
        twin.step(np.array([d]))
    ready = twin.trajectory().ready[:, 0].tolist()
    # 150 s start-up = 3 ticks: the 3 pods asked for at tick 0 serve from tick 3; scaling to 3
    # at tick 4 keeps the old ones; the 5 new pods of tick 5 serve from tick 8 (beyond the run)
    assert ready == [2, 2, 2, 5, 3, 3, 3, 3]
    assert twin.observe().pending.tolist() == [5]


def test_overload_builds_a_backlog_then_drops_beyond_the_queue_limit() -> None:
    twin = Twin(CONFIG, np.full(4, 15.0), START)  # 15 rps offered, one replica serves 10
    twin.reset(np.array([1]))
    for _ in range(4):
        twin.step(np.array([1]))
    traj = twin.trajectory()
    # +5 rps x 60 s = 300 queued per tick; the queue holds 100 per replica
    np.testing.assert_allclose(traj.dropped[:, 0], [200, 300, 300, 300])
    np.testing.assert_allclose(traj.backlog_avg[:, 0], [50, 100, 100, 100])  # mean of the ends
    m = tick_metrics(CONFIG, twin.rates, traj)
    assert (m.error_ratio > 0.2).all() and m.violation.all()
    assert (m.service_mean_ms[:, 0] > 10_000).all()  # draining 100 at 10/s: 10 s of queueing


def test_backlog_drains_when_capacity_returns() -> None:
    twin = Twin(CONFIG, np.array([12.0, 12.0, 5.0, 5.0]), START)
    twin.reset(np.array([1]))
    for _ in range(4):
        twin.step(np.array([1]))
    traj = twin.trajectory()
    np.testing.assert_allclose(traj.dropped[:, 0], [20, 120, 0, 0])
    # tick 2 starts with 100 queued and drains at 5/s: empty after 20 s of the 60 s tick
    assert traj.backlog_avg[2, 0] == pytest.approx(100 * 20 / 2 / 60)
    assert traj.backlog_avg[3, 0] == 0.0


def test_a_backlog_built_at_one_capacity_drains_at_the_next_ticks_capacity() -> None:
    entry, one = np.full(3, 12.0), np.ones((3, 1), dtype=int)
    same = run_schedule(CONFIG, entry, one, np.array([1]), capacity_rps=np.full((3, 1), 10.0))
    plain = run_schedule(CONFIG, entry, one, np.array([1]))
    for field in ("backlog_avg", "dropped"):
        np.testing.assert_array_equal(getattr(same, field), getattr(plain, field))
    # 2/s over capacity for a tick (120 queued, 20 of them beyond the limit), then 24/s spare
    traj = run_schedule(CONFIG, entry, one, np.array([1]),
                        capacity_rps=np.array([[10.0], [36.0], [36.0]]))
    np.testing.assert_allclose(traj.dropped[:, 0], [20, 0, 0])
    # 100 queued drain at 24/s: empty after 100/24 s of the second tick
    assert traj.backlog_avg[1, 0] == pytest.approx(100 * (100 / 24) / 2 / 60)
    assert traj.backlog_avg[2, 0] == 0.0


def test_closed_loop_and_schedule_agree_to_the_bit() -> None:
    from envs.graph import load_graph

    config = TwinConfig(load_graph("boutique"), Slo(400.0, 0.001))
    rng = np.random.default_rng(5)
    entry = rng.uniform(20, 900, 600)
    desired = rng.integers(1, 25, (600, 12))
    twin = Twin(config, entry, START)
    twin.reset(desired[0])
    for d in desired:
        twin.step(d)
    closed = twin.trajectory()
    opened = run_schedule(config, entry, desired, desired[0])
    assert closed.dropped.sum() > 0  # the case includes overloads
    for field in ("desired", "ready", "backlog_avg", "dropped"):
        np.testing.assert_array_equal(getattr(closed, field), getattr(opened, field), err_msg=field)


def test_latency_grows_with_load_and_cost_with_replicas() -> None:
    traj_low = run_schedule(CONFIG, np.full(3, 2.0), np.full((3, 1), 2), np.array([2]))
    traj_high = run_schedule(CONFIG, np.full(3, 18.0), np.full((3, 1), 2), np.array([2]))
    low = tick_metrics(CONFIG, np.full((3, 1), 2.0), traj_low)
    high = tick_metrics(CONFIG, np.full((3, 1), 18.0), traj_high)
    assert (high.e2e_p95_ms > low.e2e_p95_ms).all()
    assert low.cost[0] == pytest.approx(2 * 0.048 / 60)  # 2 replicas x 1 vCPU x $0.048/h, 1 min


def test_summary_in_chunks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import envs.outcome as outcome
    from envs.graph import load_graph

    config = TwinConfig(load_graph("boutique"), Slo(400.0, 0.001))
    rng = np.random.default_rng(2)
    entry = rng.uniform(20, 900, 1000)
    desired = rng.integers(1, 25, (1000, 12))
    traj = run_schedule(config, entry, desired, desired[0])
    no_event = np.zeros(1000, dtype=bool)
    whole, _ = outcome.summarize(config, entry, traj, no_event)
    monkeypatch.setattr(outcome, "CHUNK_TICKS", 97)
    chunked, _ = outcome.summarize(config, entry, traj, no_event)
    assert chunked == whole
