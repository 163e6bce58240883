"""envs.entry_forecast: the fitted spread, the decaying deviation, the seasonal reference."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from envs.entry_forecast import DEFAULT_SPREAD_LOG, EntryForecast
from envs.workload import Event

TICK = 60
DAY = 86_400 // TICK
WEEK = 7 * DAY
START = datetime(2026, 11, 2)  # the moment after the history's last tick


def _seasonal(ticks: int) -> np.ndarray:
    t = np.arange(ticks)
    return 100.0 + 50.0 * np.sin(2 * np.pi * t / DAY)


def _ar_noise(ticks: int, phi: float, cv: float, rng: np.random.Generator) -> np.ndarray:
    shocks = rng.normal(0.0, cv * np.sqrt(1 - phi**2), ticks)
    out = np.empty(ticks)
    level = 0.0
    for i, s in enumerate(shocks):
        level = phi * level + s
        out[i] = level
    return out


def test_fit_recovers_autocorrelation_and_spread() -> None:
    phi, cv = 0.8, 0.05
    hist = _seasonal(3 * WEEK) * np.exp(_ar_noise(3 * WEEK, phi, cv, np.random.default_rng(0)))
    fc = EntryForecast(hist, TICK, ())
    assert 0.7 < fc.phi < 0.86
    # one tick ahead, only the AR innovation is left: cv * sqrt(1 - phi^2) = 0.03
    assert 0.025 < fc.spread_log[0] < 0.04
    # further ahead the deviation has decayed and the spread approaches the noise's own cv
    assert fc.spread_log[0] < fc.spread_log[4] < fc.spread_log[30]
    assert 0.04 < fc.spread_log[30] < 0.07


def test_short_history_falls_back_to_default_spread() -> None:
    fc = EntryForecast(_seasonal(WEEK), TICK, ())
    assert fc.phi == 0.0
    np.testing.assert_array_equal(fc.spread(10), np.full(10, DEFAULT_SPREAD_LOG))


def test_median_follows_last_week_and_decays_a_deviation() -> None:
    noise = _ar_noise(2 * WEEK, 0.8, 0.02, np.random.default_rng(1))
    fc = EntryForecast(_seasonal(2 * WEEK) * np.exp(noise), TICK, ())
    ahead = _seasonal(2 * WEEK + 60)[2 * WEEK :]
    np.testing.assert_allclose(fc.median(START, 60), ahead, rtol=0.06)
    fc.observe(float(fc.median(START, 1)[0]) * 1.3, START)  # 30% above what was expected
    surge = fc.median(START + timedelta(minutes=1), 59) / ahead[1:]
    assert surge[0] > 1.15  # the deviation persists a tick ahead
    assert surge[-1] == pytest.approx(np.exp(fc.level), rel=0.06)  # and decays to the level
    assert np.exp(fc.level) < 1.05


def test_noise_free_history_fits_without_nan() -> None:
    fc = EntryForecast(_seasonal(2 * WEEK), TICK, ())
    assert np.isfinite(fc.phi) and np.isfinite(fc.spread_log).all()


def test_one_off_surge_last_week_is_ignored() -> None:
    hist = _seasonal(3 * WEEK)
    hist[2 * WEEK : 2 * WEEK + 120] *= 5.0  # a sale last week at the same time
    fc = EntryForecast(hist, TICK, ())
    np.testing.assert_allclose(fc.median(START, 60), _seasonal(60), rtol=0.02)


def test_announced_event_is_added_in_units_of_that_days_peak() -> None:
    hist = _seasonal(2 * WEEK)
    sale = Event("sale", START + timedelta(minutes=10), multiplier=4.0, ramp_seconds=0.0,
                 peak_seconds=3600.0, decay_seconds=600.0)
    fc = EntryForecast(hist, TICK, (sale,))
    median = fc.median(START, 30)
    plain = EntryForecast(hist, TICK, ()).median(START, 30)
    np.testing.assert_allclose(median[:11], plain[:11])  # ramps from 0 at its start
    np.testing.assert_allclose(median[11:20] - plain[11:20], 3.0 * 150.0, rtol=0.01)


def test_closed_hours_decay_the_error_state_instead_of_freezing_it() -> None:
    """A shop open 09:00-21:00: a busy evening (4x the usual) sets a large error, then 12 h
    closed. The error must not be multiplied onto the next morning's announced uplift (the
    19 -> 701 replicas blow-up on opening hours)."""
    minute = np.arange(3 * WEEK) % DAY
    hist = np.where((minute >= 9 * 60) & (minute < 21 * 60), 100.0, 0.0)
    opening = START + timedelta(days=1, hours=9)
    fc = EntryForecast(hist, TICK, (Event("opening", opening, 3.0, 900, 3600, 3600, True),))
    day_one = np.where((np.arange(DAY) >= 9 * 60) & (np.arange(DAY) < 21 * 60), 100.0, 0.0)
    day_one[18 * 60 : 21 * 60] = 400.0  # the busy evening
    for k, rate in enumerate(day_one):
        fc.observe(float(rate), START + timedelta(minutes=k + 1))
        if k == 21 * 60 - 1:
            assert fc.level + fc.deviation > 0.5  # a large error at closing time
    for k in range(9 * 60 - 1):  # closed until 08:59 the next day
        fc.observe(0.0, START + timedelta(days=1, minutes=k + 1))
    assert abs(fc.level) < 0.01 and abs(fc.deviation) < 0.01
    now = opening - timedelta(minutes=1)
    ahead = fc.median(now, 120)
    # ordinary 100 rps plus the announced uplift of 2 x the ordinary peak (100): about 300
    assert 250 < ahead.max() < 330
    assert np.all(ahead <= fc.ceiling(now, 120))


def test_surprise_growth_sees_a_ramp_the_daily_curve_and_a_sale_do_not_make() -> None:
    """The ramp feature: over 15 ticks a surprise surge growing 5% a tick reads about 15 x
    log(1.05); the daily rise, which the expectation holds, and an announced sale read ~0."""
    hist = _seasonal(2 * WEEK)
    sale = Event("sale", START + timedelta(minutes=30), multiplier=3.0, ramp_seconds=600.0,
                 peak_seconds=3600.0, decay_seconds=600.0)
    announced = EntryForecast(hist, TICK, (sale,))
    surprise = EntryForecast(hist, TICK, ())
    assert surprise.surprise_growth == 0.0  # nothing observed yet
    ordinary = _seasonal(90)
    for k in range(60):
        now = START + timedelta(minutes=k + 1)
        expected = float(announced.median(now - timedelta(minutes=1), 1)[0])
        announced.observe(expected, now)  # demand exactly as announced: the sale's ramp
        surprise.observe(float(ordinary[k]) * (1.05 ** max(k - 44, 0)), now)
        if k == 40:  # the daily curve alone: the expectation holds it
            assert abs(surprise.surprise_growth) < 0.01
    assert abs(announced.surprise_growth) < 0.01
    assert surprise.surprise_growth == pytest.approx(15 * np.log(1.05), rel=0.02)


def test_spread_widens_while_the_run_errs_more_than_the_history_and_never_narrows() -> None:
    """The fitted spread is a floor: demand as noisy as the history keeps the scale near 1, a
    surge the forecast did not see widens every horizon's spread within a few ticks (the
    headroom a sizing takes from it), and closed hours bring it back to 1."""
    phi, cv = 0.8, 0.05
    rng = np.random.default_rng(1)
    hist = _seasonal(3 * WEEK) * np.exp(_ar_noise(3 * WEEK, phi, cv, rng))
    fc = EntryForecast(hist, TICK, ())
    fitted = fc.spread(120).copy()
    assert fc.spread_scale == 1.0
    run = _seasonal(3 * WEEK)[-DAY:] * np.exp(_ar_noise(DAY, phi, cv, rng))
    scales = []
    for k in range(600):  # ordinary demand, as noisy as the history's
        fc.observe(float(run[k]), START + timedelta(minutes=k + 1))
        scales.append(fc.spread_scale)
    assert min(scales) >= 1.0
    assert np.mean(scales) < 1.15
    before = fc.spread_scale
    for j in range(10):  # then a surge of 8% a tick the expectation knows nothing of
        k = 600 + j
        fc.observe(float(run[k]) * 1.08 ** (j + 1), START + timedelta(minutes=k + 1))
    assert fc.spread_scale > max(1.8, 1.5 * before)
    np.testing.assert_allclose(fc.spread(120), fitted * fc.spread_scale)
    for j in range(200):  # closed: no errors to learn from, the scale decays to 1
        fc.observe(0.0, START + timedelta(minutes=611 + j))
    assert fc.spread_scale < 1.01


def test_a_ramp_nobody_announced_is_carried_forward_and_a_sale_or_a_plateau_is_not() -> None:
    """The trend: while a surprise surge grows 5% a tick the median goes on growing at that
    rate over the ticks ahead (up to 2x), instead of falling back to the expectation; an
    announced sale (in the expectation) and the surge's plateau once it stops growing carry no
    trend, and the median is the ordinary decaying forecast again."""
    hist = _seasonal(2 * WEEK)
    sale = Event("sale", START + timedelta(minutes=30), multiplier=3.0, ramp_seconds=600.0,
                 peak_seconds=3600.0, decay_seconds=600.0)
    announced = EntryForecast(hist, TICK, (sale,))
    surprise = EntryForecast(hist, TICK, ())
    ordinary = _seasonal(120)
    rate = 0.0
    for k in range(60):
        now = START + timedelta(minutes=k + 1)
        expected = float(announced.median(now - timedelta(minutes=1), 1)[0])
        announced.observe(expected, now)
        rate = float(ordinary[k]) * 1.05 ** max(k - 44, 0)
        surprise.observe(rate, now)
    assert announced.trend == 0.0
    assert surprise.trend == pytest.approx(np.log(1.05), rel=0.02)
    growth = surprise.median(now, 30) / rate
    assert growth[:5] == pytest.approx(1.05 ** np.arange(1, 6), rel=0.01)
    # at most 2x: MAX_TREND_LOG, and here the ceiling (2x the last day's maximum) as well
    assert growth[-1] == pytest.approx(2.0, rel=0.01) and growth.max() <= np.exp(0.7)
    for k in range(60, 80):  # the surge holds at its peak: no more growth to carry forward
        now = START + timedelta(minutes=k + 1)
        surprise.observe(float(ordinary[k]) * 1.05 ** 15, now)
    assert surprise.trend == 0.0
    assert surprise.median(now, 30)[-1] < surprise.last_rps * 1.01
