"""Query time ranges: RFC 3339 or Unix seconds, bounded in span and in points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from edgewise.api.errors import ApiError
from edgewise.api.settings import MAX_POINTS, MAX_RANGE_SECONDS

DEFAULT_SPAN_SECONDS = 6 * 3600


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float
    step_seconds: float


def parse_time(raw: str, field: str) -> float:
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(422, f"expected RFC 3339 time or Unix seconds, got {raw[:40]!r}",
                           field) from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        value = stamp.timestamp()
    if not math.isfinite(value) or not 0 <= value < 4_102_444_800:  # before 2100
        raise ApiError(422, f"time out of range: {raw[:40]!r}", field)
    return value


def time_range(start: str | None, end: str | None, step: float | None, now: float) -> TimeRange:
    t1 = parse_time(end, "end") if end is not None else now
    t0 = parse_time(start, "start") if start is not None else t1 - DEFAULT_SPAN_SECONDS
    if t1 <= t0:
        raise ApiError(422, "end must be after start", "end")
    span = t1 - t0
    if span > MAX_RANGE_SECONDS:
        raise ApiError(422, f"range of {span / 86400:.1f} days is over the limit of "
                       f"{MAX_RANGE_SECONDS / 86400:.0f}", "end")
    s = step if step is not None else max(15.0, math.ceil(span / 500))
    if not math.isfinite(s) or s <= 0:
        raise ApiError(422, "step must be > 0 seconds", "step")
    if span / s > MAX_POINTS:
        raise ApiError(422, f"{span / s:.0f} points per series is over the limit of "
                       f"{MAX_POINTS}; use a larger step", "step")
    return TimeRange(t0, t1, s)
