"""Import real demand traces from CSV, in two shapes, onto the twin's tick grid.

- events: a `timestamp` column (ISO 8601 or Unix seconds), one row per request or order; rows are
  counted per tick and divided by the tick length.
- rates: `timestamp,rate` (requests per second over the interval that starts at `timestamp`);
  each tick takes the rate of the last sample at or before it.

A header row is required. Empty files, unparseable lines (named by line number) and unsorted
timestamps are errors, never silently filled. Gaps (no sample for longer than `max_gap_seconds`)
are errors too unless `gaps=GapPolicy.ZERO` says the shop was closed: then no sample means zero
demand (an events trace counts nothing there; a rates trace's sample covers at most its usual
spacing, zero after).

Alignment: by default (`TraceAlign.CALENDAR`) a trace's timestamps are dates on the scenario's
calendar, so the trace must cover the history and the run (an error names what it covers and
what is needed); `TraceAlign.START` replays its first sample at the window's start instead.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np

from envs.errors import TraceError

_EPOCH = datetime(1970, 1, 1)
DAY_SECONDS = 86_400


class GapPolicy(StrEnum):
    ERROR = "error"  # a gap longer than max_gap_seconds is an error
    ZERO = "zero"  # closed: no sample means no demand


class TraceAlign(StrEnum):
    CALENDAR = "calendar"  # the trace's timestamps are the scenario's dates
    START = "start"  # the trace's first sample is replayed at the window's start


def _timestamp(raw: str, where: str) -> float:
    raw = raw.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise TraceError(f"{where}: unparseable timestamp {raw!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return (dt - _EPOCH).total_seconds()


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Timestamps (Unix seconds, naive = local-as-UTC) and rates (None for the events shape)."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise TraceError(f"trace {str(path)!r}: {e.strerror}") from e
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TraceError(f"trace {str(path)!r}: empty (need a header and at least one row)")
    header = [h.strip().lower() for h in rows[0]]
    if "timestamp" not in header:
        raise TraceError(f"trace {str(path)!r}: header has no 'timestamp' column (got {rows[0]})")
    ti = header.index("timestamp")
    ri = header.index("rate") if "rate" in header else None
    times, rates = [], []
    for n, row in enumerate(rows[1:], start=2):
        where = f"trace {path.name!r} line {n}"
        if len(row) != len(header):
            raise TraceError(f"{where}: expected {len(header)} columns, got {len(row)}")
        times.append(_timestamp(row[ti], where))
        if ri is not None:
            try:
                rate = float(row[ri])
            except ValueError:
                raise TraceError(f"{where}: unparseable rate {row[ri]!r}") from None
            if not np.isfinite(rate) or rate < 0:
                raise TraceError(f"{where}: rate must be a finite number >= 0, got {row[ri]!r}")
            rates.append(rate)
    t = np.asarray(times)
    if np.any(np.diff(t) < 0):
        n = int(np.argmax(np.diff(t) < 0)) + 3
        raise TraceError(f"trace {path.name!r} line {n}: timestamps go backwards")
    return t, (np.asarray(rates) if ri is not None else None)


def _day(seconds: float) -> str:
    return (_EPOCH + timedelta(seconds=float(seconds))).isoformat(timespec="minutes")


def load_trace(
    path: Path, first: datetime, ticks: int, tick_seconds: int, *, max_gap_seconds: float = 3600,
    gaps: GapPolicy = GapPolicy.ERROR, align: TraceAlign = TraceAlign.CALENDAR,
) -> np.ndarray:
    """Entry demand per tick for `ticks` ticks from `first`, from the CSV at `path`."""
    t, rates = read_csv(path)
    origin = (first - _EPOCH).total_seconds()
    if align is TraceAlign.START:
        origin = float(t[0]) - (float(t[0]) % DAY_SECONDS if gaps is GapPolicy.ZERO else 0.0)
    span = ticks * tick_seconds
    steps = np.diff(t)
    step = float(np.median(steps)) if len(steps) else float(tick_seconds)
    begin, end = float(t[0]), float(t[-1] + (tick_seconds if rates is None else step))
    if gaps is GapPolicy.ZERO:  # a log of a shop with closed hours covers its whole days
        begin, end = begin - begin % DAY_SECONDS, end + (-end) % DAY_SECONDS
    if begin > origin or end < origin + span:
        raise TraceError(
            f"trace {path.name!r}: covers {_day(begin)} to {_day(end)}, the scenario needs "
            f"{_day(origin)} to {_day(origin + span)} (history and run); move the scenario's "
            "start, or set trace_align: start to replay the trace from its first sample"
            if align is TraceAlign.CALENDAR else
            f"trace {path.name!r}: covers {(end - begin) / 3600:.1f} h, need {span / 3600:.1f} h")
    if gaps is GapPolicy.ERROR and len(steps) and steps.max() > max_gap_seconds:
        i = int(np.argmax(steps))
        raise TraceError(
            f"trace {path.name!r}: gap of {steps[i]:.0f} s after line {i + 2} (more than "
            f"{max_gap_seconds:.0f} s without a sample); if the shop is closed then, set "
            "trace_gaps: zero")
    edges = origin + np.arange(ticks + 1) * float(tick_seconds)
    if rates is None:
        counts, _ = np.histogram(t[t < edges[-1]], bins=edges)  # numpy's last bin is closed
        result: np.ndarray = counts / float(tick_seconds)
        return result
    idx = np.searchsorted(t, edges[:-1], side="right") - 1
    out: np.ndarray = rates[idx]
    if gaps is GapPolicy.ZERO:  # a sample covers its usual spacing, then the shop is closed
        out = np.where(edges[:-1] - t[idx] < max(step, float(tick_seconds)), out, 0.0)
    return out
