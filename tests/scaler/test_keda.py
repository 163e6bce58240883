"""KedaPolicy: prometheus AverageValue threshold and cron floors on top of the HPA controller."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from envs.daily_peak import median_daily_peak
from envs.graph import parse_graph
from envs.observation import LatencySample, Observation, Slo
from envs.workload import Event
from scaler.keda import KedaPolicy
from scaler.policy import PolicyContext

GRAPH = parse_graph({
    "name": "mini",
    "entry": "web",
    "services": {
        "web": {"capacity_rps": 100, "min_replicas": 2, "max_replicas": 40},
        "db": {"capacity_rps": 50, "min_replicas": 1, "max_replicas": 40},
    },
    "calls": [{"from": "web", "to": "db", "fanout": 1.0}],
})
TICK = 60
START = datetime(2024, 11, 29, 0, 0)  # a Friday, midnight
SALE = Event("black-friday", START + timedelta(hours=2), multiplier=5.0, ramp_seconds=600,
             peak_seconds=3600, decay_seconds=1800)
SURPRISE = Event("viral-post", START + timedelta(hours=1), multiplier=9.0, ramp_seconds=60,
                 peak_seconds=600, decay_seconds=60, announced=False)


def history() -> np.ndarray:
    """Three days before START at one sample per tick; daily peaks 100, 140 and 120 rps."""
    per_day = 86_400 // TICK
    rates = np.full(3 * per_day, 20.0)
    for day, peak in enumerate((100.0, 140.0, 120.0)):
        rates[day * per_day + 20 * 60] = peak  # 20:00 that day
    return rates


def NO_LATENCY() -> LatencySample:  # noqa: N802 - these policies never look at latency
    raise AssertionError("the policy read latency, which it does not observe")


def context() -> PolicyContext:
    return PolicyContext(GRAPH, TICK, Slo(300.0, 0.01), START, history(), (SALE, SURPRISE),
                         np.random.default_rng(0))


def observe(now: datetime, rate_rps: float, desired: list[int]) -> Observation:
    tick = int((now - START).total_seconds() // TICK)
    return Observation(
        tick=tick, now=now, rate_rps=np.array([rate_rps, rate_rps]),
        cpu_utilization=np.array([0.1, 0.1]), ready=np.asarray(desired),
        pending=np.zeros(2, dtype=int), desired=np.asarray(desired),
        entry_rate_rps=rate_rps, latency_source=NO_LATENCY)


def run(policy: KedaPolicy, at: datetime, ticks: int, rate_rps: float = 7.0) -> list[int]:
    desired = [2, 1]
    for k in range(ticks):
        out = policy.decide(observe(at + timedelta(seconds=k * TICK), rate_rps, desired))
        desired = [int(x) for x in out]
    return desired


def test_median_daily_peak_of_history() -> None:
    past = history()
    first = START - timedelta(seconds=len(past) * TICK)  # the history ends where the run starts
    assert median_daily_peak(past, first, TICK) == 120.0
    assert median_daily_peak(np.zeros(0), START, TICK) == 0.0


def test_cron_floor_active_inside_announced_event_window() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    assert policy.name == "keda"
    # 120 rps x 5 = 600 rps over 0.7 x capacity: web 600/70 -> 9, db 600/35 -> 18
    desired = run(policy, SALE.start, ticks=3)
    assert desired == [9, 18]


def test_cron_floor_inactive_outside_windows() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    # 01:00 and 23:00: outside business hours and outside the sale; 7 rps needs one replica
    assert run(policy, START + timedelta(hours=1, minutes=30), ticks=3) == [2, 1]
    policy.reset(context())
    assert run(policy, START + timedelta(hours=23), ticks=3) == [2, 1]


def test_surprise_events_are_not_on_the_calendar() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    assert [w.name for w in policy.cron_windows(START)] == ["business-hours", "black-friday"]


def test_business_hours_floor_carries_median_daily_peak() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    # 120 rps: web 120/70 -> 2 (its min), db 120/35 -> 4
    assert run(policy, START + timedelta(hours=10), ticks=2) == [2, 4]


def test_cron_window_starts_at_event_start_and_ends_at_event_end() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    sale = policy.cron_windows(START)[1]
    assert not sale.active(SALE.start - timedelta(seconds=1))
    assert sale.active(SALE.start) and sale.active(SALE.end - timedelta(seconds=1))
    assert not sale.active(SALE.end)


def test_prometheus_threshold_scales_with_rate() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    # 700 rps at 03:00: web 700/70 = 10, db 700/35 = 20; the legacy HPA path allows
    # max(2 x current, 4) per 15 s sync, so two ticks are enough
    assert run(policy, START + timedelta(hours=3, minutes=30), ticks=2, rate_rps=700.0) == [10, 20]


def test_scale_down_after_the_sale_waits_for_the_stabilization_window() -> None:
    policy = KedaPolicy()
    policy.reset(context())
    desired = [9, 18]
    at = SALE.end - timedelta(seconds=TICK)
    trace = []
    for k in range(8):
        out = policy.decide(observe(at + timedelta(seconds=k * TICK), 7.0, desired))
        desired = [int(x) for x in out]
        trace.append(desired[0])
    # the window closes one tick in; the recommendations of 9 (the last at 45 s) keep 9 until
    # the sync 300 s after it (345 s, the last sync of tick 5)
    assert trace[:5] == [9] * 5
    assert trace[-1] == 2
