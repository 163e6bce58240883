"""The day-ahead forecast (`scaler/dayahead.py`): issued at a day's start from the ticks before
it, for that day's hours only; the twin's per-tick version (`planning/dayahead.py`) and the
controller's demand log (`controller/dayahead.py`) are the same forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from controller.dayahead import DemandLog
from envs.workload import Event
from scaler.dayahead import DAY, issue, midnight
from scaler.forecast_features import hourly
from scaler.quantile_forecast import band_multiplier

TICK = 60
FIRST = datetime(2026, 11, 1)
DAYS = 14


def weekly(t: np.ndarray) -> np.ndarray:
    """A demand whose every hour of the week differs (so "a week earlier" is checkable)."""
    hour_of_week = (t // 3600) % 168
    return 10.0 + hour_of_week + 5.0 * np.sin(2 * np.pi * t / 900)


def _ticks(days: float) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.arange(int(days * 86_400 // TICK)) * float(TICK)
    return offsets, weekly(offsets + FIRST.replace(tzinfo=UTC).timestamp())


def test_each_hour_is_the_same_hour_a_week_earlier() -> None:
    offsets, rps = _ticks(DAYS)
    day = FIRST + timedelta(days=10)
    fc = issue(rps, FIRST, TICK, (), day)
    assert fc is not None and fc.day == day
    seen = hourly(rps, FIRST, TICK)
    band = band_multiplier(seen.head(10 * 24))
    for hour in (0, 7, 23):
        t = day + timedelta(hours=hour, minutes=30)
        week_before = seen.rps[(10 - 7) * 24 + hour]
        p50, p90 = fc.at(t)  # type: ignore[misc]
        assert p50 == pytest.approx(week_before)
        assert p90 == pytest.approx(week_before * band)


def test_only_the_ticks_before_the_day_are_read() -> None:
    offsets, rps = _ticks(DAYS)
    day = FIRST + timedelta(days=9)
    changed = rps.copy()
    changed[9 * 1440:] *= 50  # everything from the day on: the forecast must not see it
    a, b = issue(rps, FIRST, TICK, (), day), issue(changed, FIRST, TICK, (), day)
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.forecast.p50, b.forecast.p50)


def test_nothing_outside_the_day_and_nothing_without_a_week() -> None:
    offsets, rps = _ticks(DAYS)
    day = FIRST + timedelta(days=8)
    fc = issue(rps, FIRST, TICK, (), day)
    assert fc is not None
    assert fc.at(day - timedelta(seconds=1)) is None and fc.at(day + DAY) is None
    assert issue(rps, FIRST, TICK, (), FIRST + timedelta(days=6)) is None  # a week is needed
    assert issue(rps, FIRST, TICK, (), FIRST) is None


def test_an_announced_event_raises_its_hours() -> None:
    offsets, rps = _ticks(DAYS)
    day = FIRST + timedelta(days=10)
    sale = Event("sale", day + timedelta(hours=12), 3.0, 0.0, 2 * 3600, 0.0)
    plain, with_sale = issue(rps, FIRST, TICK, (), day), issue(rps, FIRST, TICK, (sale,), day)
    assert plain is not None and with_sale is not None
    noon, morning = day + timedelta(hours=12, minutes=30), day + timedelta(hours=6)
    assert with_sale.at(noon)[0] > 1.5 * plain.at(noon)[0]  # type: ignore[index]
    assert with_sale.at(morning) == plain.at(morning)


def test_the_controllers_log_issues_the_same_forecast_from_its_history_and_samples() -> None:
    """History loaded at 10:00 on day 8, then one sample per minute until day 9's 14:00: the
    log's forecast at 13:40 on day 9 is the one issued from the whole series at 00:00."""
    offsets, rps = _ticks(DAYS)
    loaded = 8 * 1440 + 600  # ticks up to 10:00 of day 8
    first_epoch = int(FIRST.replace(tzinfo=UTC).timestamp())
    log = DemandLog(rps[:loaded], first_epoch + (loaded - 1) * TICK, TICK, ())
    for k in range(loaded, 9 * 1440 + 14 * 60):
        log.observe(FIRST + timedelta(seconds=k * TICK + 7), float(rps[k]))  # 7 s into a tick
    now = FIRST + timedelta(days=9, hours=13, minutes=40)
    want = issue(rps, FIRST, TICK, (), midnight(now))
    assert want is not None
    assert log.quantiles(now) == want.at(now)


def test_a_log_started_empty_bridges_short_gaps_and_not_long_ones() -> None:
    """A new app (no history in Prometheus): eight days of live samples, one period missed for
    ten minutes on day 1 (bridged) and for thirty (the forecast of that hour a week on: none)."""
    offsets, rps = _ticks(DAYS)
    log = DemandLog(np.zeros(0), 0, TICK, (), keep_seconds=7 * 86_400)
    day1 = 1440
    short = range(day1 + 20, day1 + 30)
    long = range(day1 + 300, day1 + 330)
    for k in range(8 * 1440 + 360):
        if k not in short and k not in long:
            log.observe(FIRST + timedelta(seconds=k * TICK), float(rps[k]))
    assert log.quantiles(FIRST + timedelta(days=8, minutes=25)) is not None
    assert log.quantiles(FIRST + timedelta(days=8, hours=5, minutes=15)) is None
    assert log.quantiles(FIRST + timedelta(days=8, hours=4)) is not None
    assert 7 * 1440 <= len(log.rps) <= 7 * 1440 * 1.25 + 1  # trimmed, at least the week kept
    n = len(log.rps)
    log.observe(FIRST + timedelta(days=8, hours=6), float("nan"))  # no rate is not a sample
    assert len(log.rps) == n
