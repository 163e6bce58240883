from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from envs.workload import Event
from scaler.errors import ForecastInputError
from scaler.forecast_features import (
    FeatureSpec,
    HourlySeries,
    announced_uplift,
    calendar_features,
    forecast_design,
    hourly,
    ordinary,
    training_design,
)

MONDAY = datetime(2026, 10, 5)


@pytest.mark.parametrize(
    ("start", "hour", "expected"),
    [
        (MONDAY, 0, (0.0, 1.0, 0.0, 1.0)),  # midnight Monday
        (MONDAY, 6, (1.0, 0.0, np.sin(2 * np.pi * 0.25 / 7), np.cos(2 * np.pi * 0.25 / 7))),
        (MONDAY, 12, (0.0, -1.0, np.sin(2 * np.pi * 0.5 / 7), np.cos(2 * np.pi * 0.5 / 7))),
        (datetime(2026, 10, 8, 18), 0, (-1.0, 0.0, np.sin(2 * np.pi * 3.75 / 7),
                                         np.cos(2 * np.pi * 3.75 / 7))),
    ],
)
def test_calendar_features(start: datetime, hour: int, expected: tuple[float, ...]) -> None:
    got = calendar_features(start, np.array([hour]))[0]
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("tick", "start", "n", "hours", "first"),
    [
        (60, MONDAY, 180, 3, MONDAY),
        (60, datetime(2026, 10, 5, 0, 30), 150, 2, datetime(2026, 10, 5, 1)),  # partial hour
        (900, MONDAY, 9, 2, MONDAY),
        (3600, MONDAY, 5, 5, MONDAY),
    ],
)
def test_hourly_means(tick: int, start: datetime, n: int, hours: int, first: datetime) -> None:
    s = hourly(np.arange(n, dtype=float), start, tick)
    assert len(s) == hours and s.start == first


def test_hourly_rejects_tick_not_dividing_hour() -> None:
    with pytest.raises(ForecastInputError, match="does not divide an hour"):
        hourly(np.ones(10), MONDAY, 7 * 60)


@pytest.mark.parametrize(
    ("event", "hour", "expected"),
    [
        (Event("e", datetime(2026, 10, 5, 2), 3.0, 0, 3600, 1), 2, 2.0),  # full hour at peak
        (Event("e", datetime(2026, 10, 5, 2), 3.0, 0, 3600, 1), 1, 0.0),  # before
        (Event("e", datetime(2026, 10, 5, 2, 30), 5.0, 0, 7200, 1), 2, 2.0),  # half an hour
        (Event("e", datetime(2026, 10, 5, 2), 3.0, 0, 3600, 1, announced=False), 2, 0.0),
    ],
)
def test_announced_uplift(event: Event, hour: int, expected: float) -> None:
    assert announced_uplift((event,), MONDAY, 6)[hour] == pytest.approx(expected)


def test_ordinary_removes_event_and_peak_is_same_weekday_last_week() -> None:
    days = 9
    base = np.tile(np.concatenate([np.full(20, 50.0), np.full(4, 100.0)]), days)
    ev = Event("sale", MONDAY + np.timedelta64(8, "D").item(), 3.0, 0, 7200, 1)
    np.testing.assert_allclose(ordinary(HourlySeries(MONDAY, base), (), 24, 168).rps, base)
    with_event = base.copy()
    with_event[8 * 24 : 8 * 24 + 2] += 2.0 * 100.0
    o2 = ordinary(HourlySeries(MONDAY, with_event), (ev,), 24, 168)
    np.testing.assert_allclose(o2.rps, base, atol=1e-9)
    assert o2.peak[-1] == pytest.approx(100.0)  # future hour: same weekday a week earlier


def test_designs_shapes_and_targets() -> None:
    spec = FeatureSpec()
    rng = np.random.default_rng(1)
    s = HourlySeries(MONDAY, 100 + rng.normal(0, 1, 300))
    train = training_design(s, (), 24, spec)
    assert train.x.shape[1] == spec.width and train.x.dtype == np.float32
    assert not np.isnan(train.target).any() and (train.hour < len(s)).all()
    fc = forecast_design(s, (), 24, spec)
    assert fc.x.shape == (24, spec.width) and np.isnan(fc.target).all()
    assert fc.hour.tolist() == list(range(300, 324))


@pytest.mark.parametrize(("hours", "horizon", "match"), [
    (100, 24, "needs 192 h"), (300, 0, "horizon"), (300, 200, "horizon")])
def test_design_errors(hours: int, horizon: int, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        forecast_design(HourlySeries(MONDAY, np.ones(hours)), (), horizon, FeatureSpec())
