"""Import real demand traces from CSV, in two shapes, onto the twin's tick grid.

- events: a `timestamp` column (ISO 8601 or Unix seconds), one row per request or order; rows are
  counted per tick and divided by the tick length.
- rates: `timestamp,rate` (requests per second over the interval that starts at `timestamp`);
  each tick takes the rate of the last sample at or before it.

A header row is required. Empty files, unparseable rows (named by line number), unsorted
timestamps and gaps (no sample for longer than `max_gap_seconds`) are errors, never silently filled.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from envs.errors import TraceError

_EPOCH = datetime(1970, 1, 1)


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


def load_trace(
    path: Path, first: datetime, ticks: int, tick_seconds: int, *, max_gap_seconds: float = 3600
) -> np.ndarray:
    """Entry demand per tick for `ticks` ticks from `first`, from the CSV at `path`.

    The trace's own start is aligned to `first` (traces are replayed at the scenario's dates).
    """
    t, rates = read_csv(path)
    t = t - t[0]
    span = ticks * tick_seconds
    gaps = np.diff(t)
    if len(gaps) and gaps.max() > max_gap_seconds:
        i = int(np.argmax(gaps))
        raise TraceError(
            f"trace {path.name!r}: gap of {gaps[i]:.0f} s after row {i + 2} "
            f"(more than {max_gap_seconds:.0f} s without a sample)"
        )
    edges = np.arange(ticks + 1) * float(tick_seconds)
    if rates is None:
        if t[-1] + tick_seconds < span:
            raise TraceError(
                f"trace {path.name!r}: covers {t[-1] / 3600:.1f} h, need {span / 3600:.1f} h"
            )
        counts, _ = np.histogram(t, bins=edges)
        result: np.ndarray = counts / float(tick_seconds)
        return result
    step = float(np.median(gaps)) if len(gaps) else float(tick_seconds)
    if t[-1] + step < span:
        raise TraceError(
            f"trace {path.name!r}: covers {(t[-1] + step) / 3600:.1f} h, need {span / 3600:.1f} h"
        )
    idx = np.searchsorted(t, edges[:-1], side="right") - 1
    return rates[idx]
