"""Import real demand traces from CSV, in two shapes, onto the twin's tick grid.

- events: a `timestamp` column (ISO 8601 or Unix seconds), one row per request or order; rows are
  counted per tick and divided by the tick length.
- rates: `timestamp,rate` (requests per second over the interval that starts at `timestamp`);
  each tick takes the rate of the last sample at or before it.

A header row is required. Empty files, unparseable lines (named by line number), timestamps that
are not finite or out of range, unsorted timestamps and duplicate timestamps of the rates shape
(which rate would win?) are errors, never silently filled. Gaps (no sample for longer than
`max_gap_seconds`) are errors too unless `gaps=GapPolicy.ZERO` says the shop was closed: then no
sample means zero demand (an events trace counts nothing there; a rates trace's sample covers at
most its usual spacing, zero after).

Alignment: by default (`TraceAlign.CALENDAR`) a trace's timestamps are dates on the scenario's
calendar, so the trace must cover the history and the run (an error names what it covers and
what is needed); `TraceAlign.START` replays its first sample at the window's start instead.

The file is read once, streaming: an events trace is binned onto the tick grid while it is read
(memory is per bin, not per row; rows outside the window are counted for the checks, then
dropped), a rates trace keeps two floats a row.
"""

from __future__ import annotations

import csv
import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np

from envs.errors import TraceError
from envs.number import MAX_TICKS
from envs.textfile import describe_decode_error, describe_os_error

_EPOCH = datetime(1970, 1, 1)
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59 UTC
_CHUNK_ROWS = 65_536
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
        value = float(raw)
    except ValueError:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise TraceError(f"{where}: unparseable timestamp {raw!r}") from None
        if dt.tzinfo is not None:
            dt = dt.astimezone(UTC).replace(tzinfo=None)
        value = (dt - _EPOCH).total_seconds()
    if not math.isfinite(value) or not 0 <= value <= MAX_TIMESTAMP:
        raise TraceError(f"{where}: timestamp {raw!r} must be finite Unix seconds between 0 and "
                         f"{MAX_TIMESTAMP:.0f} (year 9999)")
    return value


def _rate(raw: str, name: str, line: int) -> float:
    try:
        rate = float(raw)
    except ValueError:
        raise TraceError(f"trace {name!r} line {line}: unparseable rate {raw!r}") from None
    if not math.isfinite(rate) or rate < 0:
        raise TraceError(
            f"trace {name!r} line {line}: rate must be a finite number >= 0, got {raw!r}")
    return rate


@dataclass
class TraceScan:
    """One pass over a trace: its extent and gaps, and either its rates or its binned events."""

    name: str
    first: float  # Unix seconds (naive = local-as-UTC) of the first row
    last: float
    rows: int
    max_gap_seconds: float
    gap_line: int  # line of the row before the largest gap
    times: np.ndarray | None  # rates shape: each row's timestamp
    rates: np.ndarray | None  # rates shape: each row's rate
    counts: np.ndarray | None  # events shape: rows per bin [origin + k b, origin + (k + 1) b)
    bin_seconds: float
    origin: float  # Unix seconds of the first bin's start

    @property
    def is_events(self) -> bool:
        return self.counts is not None


class _Scanner:
    """Accumulates rows chunk by chunk: checks order, gaps and duplicates, bins events."""

    def __init__(self, name: str, rates: bool, bin_seconds: float, bins: int | None,
                 origin: Callable[[float], float]) -> None:
        self.name, self.bin_seconds = name, bin_seconds
        self.origin_of, self.origin = origin, math.nan
        self.max_bins = bins if bins is not None else MAX_TICKS
        self.exact_bins = bins
        self.first: float | None = None
        self.last = math.nan
        self.last_line = 0
        self.rows = 0
        self.max_gap, self.gap_line = 0.0, 0
        self.times: array[float] | None = array("d") if rates else None
        self.rates: array[float] | None = array("d") if rates else None
        self.counts = np.zeros(0 if rates else 1024, dtype=np.int64)
        self.high_bin = -1

    def add(self, stamps: list[float], lines: list[int], rates: list[float]) -> None:
        t = np.asarray(stamps, dtype=float)
        if self.first is None:
            self.first, self.last, self.last_line = float(t[0]), float(t[0]), lines[0]
            self.origin = self.origin_of(self.first)
        prev = np.concatenate([[self.last], t[:-1]])
        step = t - prev
        if np.any(step < 0):
            k = int(np.argmax(step < 0))
            raise TraceError(f"trace {self.name!r} line {lines[k]}: timestamps go backwards")
        dup = step == 0
        dup[0] &= self.rows > 0  # the very first row has no row before it
        if self.rates is not None and dup.any():
            k = int(np.argmax(dup))
            raise TraceError(f"trace {self.name!r} line {lines[k]}: duplicate timestamp (the "
                             "row before has it too; one rate per timestamp)")
        k = int(np.argmax(step))
        if step[k] > self.max_gap:
            self.max_gap = float(step[k])
            self.gap_line = lines[k - 1] if k > 0 else self.last_line
        self.last, self.last_line = float(t[-1]), lines[-1]
        self.rows += len(stamps)
        if self.times is not None and self.rates is not None:
            self.times.extend(stamps)
            self.rates.extend(rates)
        else:
            self._bin(t - self.origin)

    def _bin(self, offsets: np.ndarray) -> None:
        """Rows per bin [k*b, (k+1)*b) (half open: a row on a bin's end is the next bin's);
        rows before the origin, or past the `bins` asked for, are dropped."""
        b = self.bin_seconds
        idx = np.floor(offsets / b).astype(np.int64)
        idx -= offsets < idx * b
        idx += offsets >= (idx + 1) * b
        idx = idx[idx >= 0]
        if self.exact_bins is not None:
            idx = idx[idx < self.exact_bins]
        elif len(idx) and idx[-1] >= self.max_bins:
            raise TraceError(f"trace {self.name!r}: spans more than the bound of "
                             f"{self.max_bins:,} bins of {b:g} s")
        if not len(idx):
            return
        top = int(idx[-1])
        if top >= len(self.counts):
            grown = np.zeros(max(top + 1, 2 * len(self.counts)), dtype=np.int64)
            grown[: len(self.counts)] = self.counts
            self.counts = grown
        self.counts += np.bincount(idx, minlength=len(self.counts))[: len(self.counts)]
        self.high_bin = max(self.high_bin, top)

    def result(self) -> TraceScan:
        assert self.first is not None
        scan = TraceScan(self.name, self.first, self.last, self.rows, self.max_gap,
                         self.gap_line, None, None, None, self.bin_seconds, self.origin)
        if self.times is not None and self.rates is not None:
            scan.times, scan.rates = np.frombuffer(self.times), np.frombuffer(self.rates)
        else:
            n = self.exact_bins if self.exact_bins is not None else self.high_bin + 1
            counts = np.zeros(n, dtype=np.int64)
            counts[: min(n, len(self.counts))] = self.counts[:n]
            scan.counts = counts
        return scan


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row; OSError and UnicodeDecodeError named."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            for row in reader:
                if row and (row[0].strip() or any(c.strip() for c in row)):
                    yield reader.line_num, row
    except OSError as e:
        raise TraceError(f"trace {str(path)!r}: {describe_os_error(e)}") from e
    except UnicodeDecodeError as e:
        raise TraceError(f"trace {str(path)!r}: {describe_decode_error(e)}") from e
    except csv.Error as e:
        raise TraceError(f"trace {str(path)!r}: not CSV ({e})") from e


def _from_first(first: float) -> float:
    return first


def scan_csv(path: Path, bin_seconds: float = 60.0, bins: int | None = None,
             origin: Callable[[float], float] = _from_first) -> TraceScan:
    """Read the trace at `path` once. Events are counted per `bin_seconds` from
    `origin(first row's timestamp)` (by default the first row; only the first `bins` bins kept,
    if given)."""
    rows = _rows(path)
    head = next(rows, None)
    if head is None:
        raise TraceError(f"trace {str(path)!r}: empty (need a header and at least one row)")
    header = [h.strip().lower() for h in head[1]]
    if "timestamp" not in header:
        raise TraceError(f"trace {str(path)!r}: header has no 'timestamp' column (got {head[1]})")
    ti = header.index("timestamp")
    ri = header.index("rate") if "rate" in header else None
    scanner = _Scanner(path.name, ri is not None, bin_seconds, bins, origin)
    stamps: list[float] = []
    lines: list[int] = []
    rates: list[float] = []
    width = len(header)
    for line, row in rows:
        if len(row) != width:
            raise TraceError(f"trace {path.name!r} line {line}: expected {width} columns, "
                             f"got {len(row)}")
        try:  # the common case first: Unix seconds in range (NaN fails the comparison)
            stamp = float(row[ti])
            if not 0 <= stamp <= MAX_TIMESTAMP:
                raise ValueError
        except ValueError:
            stamp = _timestamp(row[ti], f"trace {path.name!r} line {line}")
        stamps.append(stamp)
        lines.append(line)
        if ri is not None:
            rates.append(_rate(row[ri], path.name, line))
        if len(stamps) == _CHUNK_ROWS:
            scanner.add(stamps, lines, rates)
            stamps, lines, rates = [], [], []
    if stamps:
        scanner.add(stamps, lines, rates)
    if scanner.rows == 0:
        raise TraceError(f"trace {str(path)!r}: empty (need a header and at least one row)")
    return scanner.result()


def _day(seconds: float) -> str:
    return (_EPOCH + timedelta(seconds=float(seconds))).isoformat(timespec="minutes")


@dataclass(frozen=True)
class _Window:
    """Where a trace is replayed: bins of `tick_seconds` from an origin on its own clock."""

    first: datetime
    ticks: int
    tick_seconds: int
    gaps: GapPolicy
    align: TraceAlign

    def origin(self, first_row: float) -> float:
        if self.align is TraceAlign.CALENDAR:
            return (self.first - _EPOCH).total_seconds()
        return first_row - (first_row % DAY_SECONDS if self.gaps is GapPolicy.ZERO else 0.0)


def _check(scan: TraceScan, w: _Window, step: float, max_gap_seconds: float) -> None:
    """The trace covers the window (whole days when closed hours are zero) and, unless closed
    hours are allowed, has no gap longer than `max_gap_seconds`."""
    span = w.ticks * w.tick_seconds
    begin, end = scan.first, scan.last + (w.tick_seconds if scan.is_events else step)
    if w.gaps is GapPolicy.ZERO:  # a log of a shop with closed hours covers its whole days
        begin, end = begin - begin % DAY_SECONDS, end + (-end) % DAY_SECONDS
    if begin > scan.origin or end < scan.origin + span:
        raise TraceError(
            f"trace {scan.name!r}: covers {_day(begin)} to {_day(end)}, the scenario needs "
            f"{_day(scan.origin)} to {_day(scan.origin + span)} (history and run); move the "
            "scenario's start, or set trace_align: start to replay the trace from its first "
            "sample"
            if w.align is TraceAlign.CALENDAR else
            f"trace {scan.name!r}: covers {(end - begin) / 3600:.1f} h, need {span / 3600:.1f} h")
    if w.gaps is GapPolicy.ERROR and scan.max_gap_seconds > max_gap_seconds:
        raise TraceError(
            f"trace {scan.name!r}: gap of {scan.max_gap_seconds:.0f} s after line "
            f"{scan.gap_line} (more than {max_gap_seconds:.0f} s without a sample); if the shop "
            "is closed then, set trace_gaps: zero")


def load_trace(
    path: Path, first: datetime, ticks: int, tick_seconds: int, *, max_gap_seconds: float = 3600,
    gaps: GapPolicy = GapPolicy.ERROR, align: TraceAlign = TraceAlign.CALENDAR,
) -> np.ndarray:
    """Entry demand per tick for `ticks` ticks from `first`, from the CSV at `path` (aligned by
    `align`, closed hours by `gaps`; see the module docstring)."""
    w = _Window(first, ticks, tick_seconds, gaps, align)
    scan = scan_csv(path, float(tick_seconds), ticks, w.origin)
    step = float(tick_seconds)
    if scan.times is not None and len(scan.times) > 1:
        step = float(np.median(np.diff(scan.times)))
    _check(scan, w, step, max_gap_seconds)
    if scan.counts is not None:
        result: np.ndarray = scan.counts / float(tick_seconds)
        return result
    assert scan.times is not None and scan.rates is not None
    edges = scan.origin + np.arange(ticks) * float(tick_seconds)
    idx = np.searchsorted(scan.times, edges, side="right") - 1
    out: np.ndarray = np.where(idx >= 0, scan.rates[np.maximum(idx, 0)], 0.0)
    if gaps is GapPolicy.ZERO:  # a sample covers its usual spacing, then the shop is closed
        held = edges - scan.times[np.maximum(idx, 0)] < max(step, float(tick_seconds))
        out = np.where((idx >= 0) & held, out, 0.0)
    return out
