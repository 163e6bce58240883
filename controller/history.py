"""Entry-demand history for the forecasting policies, from range queries of a metrics store.

Pure: the tick grid ending at `now`, the query windows that keep every request under
Prometheus' limit of 11,000 points per series, merging the windows' samples onto the grid,
filling short gaps, and whether what remains is enough for the policy (and, if not, why).
The Prometheus adapter (`controller/prometheus.py`) runs one range query per window.

Gaps: a run of missing ticks up to `max_gap_seconds` long (a scrape hiccup, a Prometheus
restart) is interpolated linearly, or carried forward at the end; a longer run breaks the series
and only the ticks after it count, since the forecasters assume one contiguous series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

MAX_POINTS_PER_QUERY = 11_000  # Prometheus refuses range queries returning more per series
MAX_GAP_SECONDS = 900

Series = Sequence[tuple[float, float]]  # (Unix seconds, value), as a range query returns them


@dataclass(frozen=True)
class Grid:
    """`ticks` instants, `step_seconds` apart, the last at `end_epoch` (a multiple of the step)."""

    end_epoch: int
    step_seconds: int
    ticks: int

    @property
    def start_epoch(self) -> int:
        return self.end_epoch - (self.ticks - 1) * self.step_seconds


@dataclass(frozen=True)
class Window:
    """One range query: instants start, start + step, ..., end (both included)."""

    start_epoch: int
    end_epoch: int


@dataclass(frozen=True)
class History:
    rps: np.ndarray  # entry demand per tick, oldest first, the last tick at the grid's end
    step_seconds: int
    broken_at_epoch: int | None = None  # end of the last gap too long to fill, if any

    @property
    def hours(self) -> float:
        return len(self.rps) * self.step_seconds / 3600


def grid(now: datetime, step_seconds: int, history_seconds: float) -> Grid:
    """The ticks of the last `history_seconds` up to `now` (naive UTC), on multiples of the step."""
    if step_seconds < 1:
        raise ValueError(f"step_seconds must be >= 1, got {step_seconds}")
    epoch = int(now.replace(tzinfo=UTC).timestamp())
    return Grid(epoch - epoch % step_seconds, step_seconds,
                max(1, int(history_seconds // step_seconds)))


def windows(g: Grid, max_points: int = MAX_POINTS_PER_QUERY) -> tuple[Window, ...]:
    """Consecutive windows covering the grid, none with more than `max_points` instants."""
    out = []
    first = 0
    while first < g.ticks:
        last = min(g.ticks, first + max_points) - 1
        out.append(Window(g.start_epoch + first * g.step_seconds,
                          g.start_epoch + last * g.step_seconds))
        first = last + 1
    return tuple(out)


def merge(g: Grid, series: Iterable[Series]) -> np.ndarray:
    """Samples of every series (every window, every matching series) summed per tick.

    A tick no series has a finite sample for is NaN; samples off the grid are ignored.
    """
    total = np.zeros(g.ticks)
    seen = np.zeros(g.ticks, dtype=bool)
    for s in series:
        if not len(s):
            continue
        pts = np.asarray(s, dtype=float).reshape(-1, 2)
        offset = pts[:, 0] - g.start_epoch
        idx = np.rint(offset / g.step_seconds).astype(int)
        ok = (np.isfinite(pts[:, 1]) & (idx >= 0) & (idx < g.ticks)
              & np.isclose(idx * g.step_seconds, offset))
        np.add.at(total, idx[ok], pts[ok, 1])
        seen[idx[ok]] = True
    return np.where(seen, total, np.nan)


def _runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    edges = np.diff(np.concatenate([[0], missing.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def fill_gaps(values: np.ndarray, max_gap_ticks: int) -> np.ndarray:
    """Interior runs of NaN up to `max_gap_ticks` long interpolated linearly, a trailing one
    carried forward from the last sample; longer runs (and leading ones) stay NaN."""
    out = values.astype(float).copy()
    n = len(out)
    for start, end in _runs(np.isnan(out)):
        if start == 0 or end - start > max_gap_ticks:
            continue
        if end == n:
            out[start:] = out[start - 1]
        else:
            out[start:end] = np.interp(np.arange(start, end), [start - 1, end],
                                       [out[start - 1], out[end]])
    return out


def history(g: Grid, series: Iterable[Series], max_gap_seconds: float = MAX_GAP_SECONDS
            ) -> History:
    """The contiguous demand series ending at the grid's last tick (empty if that tick has no
    sample within `max_gap_seconds`)."""
    filled = fill_gaps(merge(g, series), int(max_gap_seconds // g.step_seconds))
    missing = np.flatnonzero(np.isnan(filled))
    if len(missing) == 0:
        return History(filled, g.step_seconds)
    after = int(missing[-1]) + 1
    interior = len(missing) < after < g.ticks  # samples before the last unfilled run, and after
    broken = g.start_epoch + after * g.step_seconds if interior else None
    return History(filled[after:], g.step_seconds, broken)


def shortfall(h: History, needed_ticks: int, history_seconds: float) -> str | None:
    """None when `h` is long enough for a policy that needs `needed_ticks`, else why not."""
    if len(h.rps) >= needed_ticks:
        return None
    needed_h = needed_ticks * h.step_seconds / 3600
    msg = f"demand history has {h.hours:.1f} h, the policy needs {needed_h:.1f} h"
    if h.broken_at_epoch is not None:
        when = datetime.fromtimestamp(h.broken_at_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        msg += f" (the series has a gap longer than {MAX_GAP_SECONDS // 60} min ending {when})"
    if history_seconds < needed_ticks * h.step_seconds:
        msg += (f"; metrics.historySeconds ({history_seconds:g}) is below that: raise it to at "
                f"least {needed_ticks * h.step_seconds}")
    else:
        msg += "; the scaler uses the reactive rule until Prometheus holds enough"
    return msg
