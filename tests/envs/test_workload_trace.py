"""Workload generation (seeded, seasonal, events) and CSV trace import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TraceError
from envs.trace import GapPolicy, TraceAlign, load_trace
from envs.workload import Event, WorkloadSpec, generate

START = datetime(2026, 11, 23)  # a Monday


def test_same_seed_same_trace_other_seed_other_trace() -> None:
    a = generate(WorkloadSpec(), (), START, 1440, 60, np.random.default_rng(7))
    b = generate(WorkloadSpec(), (), START, 1440, 60, np.random.default_rng(7))
    c = generate(WorkloadSpec(), (), START, 1440, 60, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_daily_and_weekly_seasonality() -> None:
    spec = WorkloadSpec(noise_cv=0.0)
    week = generate(spec, (), START, 7 * 1440, 60, np.random.default_rng(0)).reshape(7, 1440)
    assert week[0, 20 * 60] > 10 * week[0, 4 * 60]  # evening peak vs night trough
    assert week[5].max() > week[1].max()  # Saturday busier than Tuesday
    assert week[0].max() == pytest.approx(200 * 0.90, rel=0.01)  # base x Monday factor


def test_event_ramp_peak_decay() -> None:
    ev = Event("sale", datetime(2026, 11, 24, 3), 8.0, 900, 3600, 1800)
    spec = WorkloadSpec(noise_cv=0.0)
    with_ev = generate(spec, (ev,), START, 2 * 1440, 60, np.random.default_rng(0))
    without = generate(spec, (), START, 2 * 1440, 60, np.random.default_rng(0))
    at = 1440 + 3 * 60
    uplift = with_ev - without
    assert uplift[:at].max() == 0.0
    assert uplift[at + 7] == pytest.approx(
        7 * 200 * 0.88 * 7 / 15, rel=0.02
    )  # half-way up the ramp
    assert uplift[at + 30] == pytest.approx(7 * 200 * 0.88, rel=0.01)  # the peak: 8x the daily peak
    assert uplift[at + 15 + 60 + 30] == pytest.approx(7 * 200 * 0.88 * np.exp(-1), rel=0.03)


def test_trace_rates_shape(tmp_path: Path) -> None:
    f = tmp_path / "rates.csv"
    f.write_text(
        "timestamp,rate\n" + "".join(f"2026-01-01T00:{m:02d}:00,{m}\n" for m in range(0, 60, 5))
    )
    rps = load_trace(f, START, 12, 300, align=TraceAlign.START)
    np.testing.assert_array_equal(rps, np.arange(0, 60, 5))


def test_trace_events_shape_bins_per_tick(tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    stamps = [0, 10, 20, 70, 80, 130]  # 3 in the first minute, 2 in the second, 1 in the third
    f.write_text(
        "timestamp,order_id\n" + "".join(f"{1_700_000_000 + s},{i}\n" for i, s in enumerate(stamps))
    )
    rps = load_trace(f, START, 3, 60, max_gap_seconds=120, align=TraceAlign.START)
    np.testing.assert_allclose(rps, [3 / 60, 2 / 60, 1 / 60])


BAD_TRACES = [
    ("empty", "", "empty"),
    ("header only", "timestamp,rate\n", "empty"),
    ("no timestamp column", "time,rate\n1,2\n", "no 'timestamp' column"),
    ("bad timestamp", "timestamp,rate\nyesterday,3\n", "line 2: unparseable timestamp 'yesterday'"),
    ("bad rate", "timestamp,rate\n0,3\n60,lots\n", "line 3: unparseable rate 'lots'"),
    ("negative rate", "timestamp,rate\n0,-1\n", "rate must be a finite number >= 0"),
    ("backwards", "timestamp,rate\n0,1\n120,1\n60,1\n", "line 4: timestamps go backwards"),
    ("gap", "timestamp,rate\n0,1\n60,1\n90000,1\n",
     "gap of 89940 s after line 3 .* trace_gaps: zero"),
    ("short", "timestamp,rate\n0,1\n60,1\n", "covers 0.0 h, need 1.0 h"),
    ("ragged", "timestamp,rate\n0,1,2\n", "line 2: expected 2 columns, got 3"),
]


@pytest.mark.parametrize(
    ("text", "message"), [b[1:] for b in BAD_TRACES], ids=[b[0] for b in BAD_TRACES]
)
def test_bad_traces_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(TraceError, match=message):
        load_trace(f, START, 60, 60, align=TraceAlign.START)


def test_shipped_bank_calls_example_imports() -> None:
    from envs.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "examples" / "bank-calls.yaml")
    history, run = sc.demand(0)
    assert len(run) == sc.ticks and run.max() > 0
    assert sc.trace_rps is not None


def orders(stamps: list[str]) -> str:
    return "timestamp,order_id\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps))


def test_trace_aligns_to_the_calendar_by_its_timestamps(tmp_path: Path) -> None:
    f = tmp_path / "rates.csv"
    f.write_text("timestamp,rate\n" + "".join(
        f"2026-11-22T23:{m:02d}:00,{m}\n" for m in range(0, 60, 5)) + "".join(
        f"2026-11-23T00:{m:02d}:00,{100 + m}\n" for m in range(0, 60, 5)))
    rps = load_trace(f, START, 12, 300)  # the run starts at midnight: the second hour
    np.testing.assert_array_equal(rps, 100 + np.arange(0, 60, 5))


def test_trace_that_misses_the_calendar_names_both_ranges(tmp_path: Path) -> None:
    f = tmp_path / "rates.csv"
    f.write_text("timestamp,rate\n2026-01-01T00:00:00,1\n2026-01-01T00:05:00,2\n")
    with pytest.raises(TraceError, match=r"covers 2026-01-01T00:00 to 2026-01-01T00:10, the "
                                         r"scenario needs 2026-11-23T00:00 to 2026-11-23T01:00 .*"
                                         r"trace_align: start"):
        load_trace(f, START, 12, 300)


def test_closed_hours_mean_zero_demand_when_asked(tmp_path: Path) -> None:
    """Orders 09:00-09:02 and 20:00: an 11 h gap is an error by default, closed with ZERO."""
    f = tmp_path / "orders.csv"
    f.write_text(orders(["2026-11-22T23:59:00", "2026-11-23T09:00:10", "2026-11-23T09:01:10",
                         "2026-11-23T09:01:20", "2026-11-23T20:00:00"]))
    with pytest.raises(TraceError, match="39520 s after line 5 .* trace_gaps: zero"):
        load_trace(f, START, 20 * 60, 60)
    rps = load_trace(f, START, 20 * 60, 60, gaps=GapPolicy.ZERO)
    assert rps[:540].sum() == 0 and rps[540] == pytest.approx(1 / 60)
    assert rps[541] == pytest.approx(2 / 60) and rps[542:].sum() == 0


def test_closed_hours_in_a_rates_trace_hold_a_sample_for_its_spacing_only(
        tmp_path: Path) -> None:
    f = tmp_path / "rates.csv"
    f.write_text("timestamp,rate\n2026-11-23T00:00:00,4\n2026-11-23T00:05:00,6\n"
                 "2026-11-23T03:00:00,8\n2026-11-23T03:05:00,8\n")
    rps = load_trace(f, START, 36, 300, gaps=GapPolicy.ZERO)
    assert list(rps[:3]) == [4, 6, 0] and rps[3:36].sum() == 0


def test_a_shop_opening_mid_day_is_closed_before_its_first_sample(tmp_path: Path) -> None:
    """Replayed from its first day's midnight (closed hours zero), a rates trace that opens at
    09:00 is zero before then, not its last sample wrapped around."""
    f = tmp_path / "rates.csv"
    f.write_text("timestamp,rate\n2026-11-23T09:00:00,4\n2026-11-23T09:05:00,6\n"
                 "2026-11-23T23:55:00,9\n")
    rps = load_trace(f, datetime(2020, 1, 1), 288, 300, gaps=GapPolicy.ZERO,
                     align=TraceAlign.START)
    assert rps[:108].sum() == 0 and list(rps[108:110]) == [4, 6] and rps[-1] == 9


def scenario_with_trace(tmp_path: Path, **fields: object) -> object:
    from envs.scenario import parse_scenario

    f = tmp_path / "shop.csv"  # two days, open 09:00-17:00, peak 2 rps on day one, 4 on day two
    lines = []
    for day, peak in ((22, 2.0), (23, 4.0)):
        for h in range(9, 17):
            lines.append(f"2026-11-{day}T{h:02d}:00:00,{peak if h == 12 else 1.0}")
    lines.append("2026-11-23T23:59:00,0")
    f.write_text("timestamp,rate\n" + "\n".join(lines) + "\n")
    raw = {"name": "shop", "start": "2026-11-23T00:00:00", "duration": "1d", "history": "1d",
           "trace": str(f), "trace_gaps": "zero", **fields}
    return parse_scenario(raw, base_dir=tmp_path)


def test_trace_daily_peak_rps_scales_the_ordinary_daily_peak(tmp_path: Path) -> None:
    sc = scenario_with_trace(tmp_path, trace_daily_peak_rps=30)
    history, run = sc.demand(0)  # type: ignore[attr-defined]
    # daily peaks 2 and 4 -> median 3 -> scaled by 10; closed hours are zero
    assert history.max() == pytest.approx(20.0) and run.max() == pytest.approx(40.0)
    assert history[: 9 * 60].sum() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"trace_scale": 2, "trace_daily_peak_rps": 5}, "not both"),
     ({"trace_gaps": "guess"}, "'trace_gaps' must be one of error, zero"),
     ({"trace_align": "end"}, "'trace_align' must be one of calendar, start"),
     ({"trace_daily_peak_rps": 0}, "'trace_daily_peak_rps' must be > 0")],
)
def test_trace_fields_are_checked(tmp_path: Path, fields: dict[str, object],
                                  message: str) -> None:
    from envs.errors import ScenarioError

    with pytest.raises(ScenarioError, match=message):
        scenario_with_trace(tmp_path, **fields)
