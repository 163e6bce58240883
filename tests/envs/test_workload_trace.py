"""Workload generation (seeded, seasonal, events) and CSV trace import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TraceError
from envs.trace import load_trace
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
    rps = load_trace(f, START, 12, 300)
    np.testing.assert_array_equal(rps, np.arange(0, 60, 5))


def test_trace_events_shape_bins_per_tick(tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    stamps = [0, 10, 20, 70, 80, 130]  # 3 in the first minute, 2 in the second, 1 in the third
    f.write_text(
        "timestamp,order_id\n" + "".join(f"{1_700_000_000 + s},{i}\n" for i, s in enumerate(stamps))
    )
    rps = load_trace(f, START, 3, 60, max_gap_seconds=120)
    np.testing.assert_allclose(rps, [3 / 60, 2 / 60, 1 / 60])


BAD_TRACES = [
    ("empty", "", "empty"),
    ("header only", "timestamp,rate\n", "empty"),
    ("no timestamp column", "time,rate\n1,2\n", "no 'timestamp' column"),
    ("bad timestamp", "timestamp,rate\nyesterday,3\n", "line 2: unparseable timestamp 'yesterday'"),
    ("bad rate", "timestamp,rate\n0,3\n60,lots\n", "line 3: unparseable rate 'lots'"),
    ("negative rate", "timestamp,rate\n0,-1\n", "rate must be a finite number >= 0"),
    ("backwards", "timestamp,rate\n0,1\n120,1\n60,1\n", "line 4: timestamps go backwards"),
    ("gap", "timestamp,rate\n0,1\n60,1\n90000,1\n", "gap of 89940 s after row 3"),
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
        load_trace(f, START, 60, 60)


def test_shipped_bank_calls_example_imports() -> None:
    from envs.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "examples" / "bank-calls.yaml")
    history, run = sc.demand(0)
    assert len(run) == sc.ticks and run.max() > 0
    assert sc.trace_rps is not None
