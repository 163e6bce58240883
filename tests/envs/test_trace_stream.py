"""The streaming trace import bins exactly as a whole-file np.histogram of the half-open ticks
would, across chunk boundaries, and checks order and gaps between chunks too."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TraceError
from envs.trace import TraceAlign, load_trace, scan_csv

START = datetime(2026, 1, 1)


def test_events_binned_while_read_match_a_histogram(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ticks, tick = 300, 60
    offsets = np.sort(np.concatenate([
        rng.uniform(0, ticks * tick, 200_000),  # more than three read chunks
        np.arange(ticks + 1) * float(tick),      # every edge exactly, the window's end included
    ]))
    stamps = 1_700_000_000.0 + offsets
    f = tmp_path / "requests.csv"
    f.write_text("timestamp\n" + "".join(f"{x!r}\n" for x in stamps.tolist()))
    got = load_trace(f, START, ticks, tick, align=TraceAlign.START)
    edges = np.arange(ticks + 1) * float(tick)
    inside = offsets[offsets < edges[-1]]  # an order on the window's end belongs to the next tick
    counts, _ = np.histogram(inside, bins=edges)
    np.testing.assert_array_equal(got, counts / tick)
    calendar = datetime(2023, 11, 14, 22, 13, 20)  # the first timestamp, on the calendar
    np.testing.assert_array_equal(load_trace(f, calendar, ticks, tick), got)
    assert scan_csv(f).rows == len(stamps)


def test_order_is_checked_across_chunks(tmp_path: Path) -> None:
    stamps = list(range(70_000))
    stamps[65_536] = 5  # the first row of the second chunk goes backwards
    f = tmp_path / "t.csv"
    f.write_text("timestamp\n" + "".join(f"{s}\n" for s in stamps))
    with pytest.raises(TraceError, match="line 65538: timestamps go backwards"):
        scan_csv(f)
