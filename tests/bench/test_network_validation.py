"""The validation set: its kinds, the synthetic closed-hours shop, and no seed any bench draws."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bench.network_validation import CLOSED_PEAK_RPS, KINDS, closed_hours, main, scenarios
from bench.rl_vs_baselines import scenario_names
from envs.daily_peak import median_daily_peak


def test_every_kind_is_there_with_its_count_and_its_own_names() -> None:
    picked = scenarios()
    assert [k for k, _ in picked] == [k for k, (_, n, _) in KINDS.items() for _ in range(n)]
    names = [sc.name for _, sc in picked]
    assert len(set(names)) == len(names) == 21
    assert not set(names) & set(scenario_names())
    by_kind = {k: [sc for kk, sc in picked if kk == k] for k in KINDS}
    assert all(len(sc.events) == 1 and sc.events[0].announced for sc in by_kind["announced"])
    assert all(len(sc.events) == 1 and not sc.events[0].announced for sc in by_kind["surprise"])
    assert all(not sc.events for sc in by_kind["calm"])
    assert all(sc.duration_seconds == 7 * 86_400 for sc in by_kind["week"])
    seeds = [seed for seed, _, _ in KINDS.values()]
    assert len(set(seeds)) == len(seeds) and not {10_000, 20_000} & set(seeds)


def test_the_closed_hours_shop_is_closed_at_night_intermittent_and_scaled() -> None:
    sc = closed_hours(70_001)
    history, run = sc.demand(0)
    series = np.concatenate([history, run])
    assert len(series) == sc.history_ticks + sc.ticks
    first = sc.start - timedelta(seconds=sc.history_seconds)
    hours = (np.arange(len(series)) * sc.tick_seconds / 3600 + first.hour) % 24
    assert np.all(series[(hours >= 2) & (hours < 5)] == 0)  # closed before 06:00
    assert np.mean(series == 0) > 0.3
    peak = median_daily_peak(series, first, sc.tick_seconds)
    assert peak == pytest.approx(CLOSED_PEAK_RPS)
    opening = np.flatnonzero((series[1:] > 0) & (series[:-1] == 0))
    assert len(opening) >= 14  # opens every day (and minutes between orders close it again)
    np.testing.assert_array_equal(closed_hours(70_001).trace_rps, sc.trace_rps)


def test_an_unknown_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--kinds", "calm,stormy"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown kind 'stormy'" in err and "closed" in err


def test_the_sparse_shop_dips_and_rebounds_more_than_the_closed_one() -> None:
    """Few orders a minute: tick-to-tick swings of the open-hours rate are Poisson noise."""
    def swing(sc_rps: np.ndarray) -> float:
        open_ = (sc_rps[1:] > 0) & (sc_rps[:-1] > 0)
        return float(np.median(np.abs(np.diff(np.log(np.maximum(sc_rps, 1e-9))))[open_]))

    sparse = [sc for k, sc in scenarios(("sparse", "closed")) if k == "sparse"]
    closed = [sc for k, sc in scenarios(("sparse", "closed")) if k == "closed"]
    assert len(sparse) == 3 and all(sc.trace_rps is not None for sc in sparse)
    assert min(swing(np.asarray(sc.trace_rps)) for sc in sparse) > \
        max(swing(np.asarray(sc.trace_rps)) for sc in closed)
