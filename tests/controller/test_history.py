"""The pure part of loading demand history: grid, query windows, merging, gaps, sufficiency."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from controller.history import (
    MAX_POINTS_PER_QUERY,
    Grid,
    fill_gaps,
    grid,
    history,
    merge,
    shortfall,
)
from controller.history import windows as query_windows

NOW = datetime(2026, 11, 27, 10, 0, 7)
END = int(datetime(2026, 11, 27, 10, 0, 5).timestamp() - datetime(1970, 1, 1).timestamp())


def test_grid_ends_on_the_last_multiple_of_the_step_before_now() -> None:
    g = grid(NOW, 5, 3600)
    assert g.end_epoch == END and g.end_epoch % 5 == 0
    assert g.ticks == 720 and g.start_epoch == END - 719 * 5


@pytest.mark.parametrize(("ticks", "sizes"), [
    (1, [1]),
    (MAX_POINTS_PER_QUERY, [MAX_POINTS_PER_QUERY]),
    (MAX_POINTS_PER_QUERY + 1, [MAX_POINTS_PER_QUERY, 1]),
    (25_000, [11_000, 11_000, 3_000]),
    (604_800, [11_000] * 54 + [10_800]),  # two weeks at a 2 s period
])
def test_windows_cover_the_grid_contiguously_under_the_limit(ticks: int, sizes: list[int]
                                                             ) -> None:
    g = Grid(END, 2, ticks)
    ws = query_windows(g)
    got = [(w.end_epoch - w.start_epoch) // 2 + 1 for w in ws]
    assert got == sizes and max(got) <= MAX_POINTS_PER_QUERY
    assert ws[0].start_epoch == g.start_epoch and ws[-1].end_epoch == g.end_epoch
    assert all(b.start_epoch == a.end_epoch + 2 for a, b in zip(ws, ws[1:], strict=False))


def test_merge_sums_series_per_tick_and_drops_nan_and_off_grid_samples() -> None:
    g = Grid(100, 10, 5)  # ticks at 60, 70, 80, 90, 100
    a = [(60.0, 1.0), (70.0, 2.0), (80.0, float("nan")), (95.0, 50.0)]
    b = [(70.0, 10.0), (100.0, 4.0), (200.0, 9.0)]
    out = merge(g, [a, b, []])
    np.testing.assert_array_equal(out, [1.0, 12.0, np.nan, np.nan, 4.0])


def test_fill_gaps_interpolates_short_runs_and_leaves_long_and_leading_ones() -> None:
    nan = np.nan
    v = np.array([nan, 1.0, nan, 3.0, nan, nan, nan, 7.0, 8.0, nan, nan])
    out = fill_gaps(v, max_gap_ticks=2)
    np.testing.assert_array_equal(out, [nan, 1.0, 2.0, 3.0, nan, nan, nan, 7.0, 8.0, 8.0, 8.0])


def test_history_keeps_the_run_after_the_last_long_gap() -> None:
    g = Grid(1000, 10, 101)  # 0 .. 1000
    before = [(float(t), 5.0) for t in range(0, 300, 10)]
    after = [(float(t), 7.0) for t in range(600, 1001, 10)]  # 300..590 missing: 30 ticks
    h = history(g, [before, after], max_gap_seconds=100)
    assert len(h.rps) == 41 and set(h.rps) == {7.0} and h.broken_at_epoch == 600
    short = history(g, [before, [(600.0, 7.0), (605.0, 1.0)]], max_gap_seconds=100)
    assert len(short.rps) == 0  # no sample in the last 400 s: nothing is current


def test_leading_missing_ticks_are_just_a_shorter_history() -> None:
    g = Grid(1000, 10, 101)
    h = history(g, [[(float(t), 3.0) for t in range(500, 1001, 10)]])
    assert len(h.rps) == 51 and h.broken_at_epoch is None


def test_shortfall_says_how_much_there_is_and_what_is_needed() -> None:
    g = grid(NOW, 60, 14 * 86_400)
    two_days = [(float(g.end_epoch - 60 * i), 20.0) for i in range(2 * 1440)]
    h = history(g, [two_days])
    msg = shortfall(h, 20_160, 14 * 86_400)
    assert msg is not None and "has 48.0 h" in msg and "needs 336.0 h" in msg
    assert shortfall(h, 2 * 1440, 14 * 86_400) is None
    capped = shortfall(h, 20_160, 86_400)
    assert capped is not None and "metrics.historySeconds (86400)" in capped
