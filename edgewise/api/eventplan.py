"""Q4: an event plan of `edgewise plan` (plan.json + plan.csv) beside what happened.

Pure: the plan's hours are read from its files; the actual entry demand and ready replicas
come from the caller (the app's series: Prometheus, or the store holding the twin's run) and
are reduced here to the plan's hours: the mean and the peak of demand, the fewest ready
replicas, per hour. An hour is *short* when demand peaked above the planned demand or a
service had fewer ready replicas than planned.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import PermanentError

HOUR_SECONDS = 3600
FIXED_COLUMNS = ("hour_start", "p50_rps", "p90_rps", "burst", "planned_rps")


class PlanFileError(PermanentError):
    """A plan directory without a readable plan.json and plan.csv of `edgewise plan`."""


@dataclass(frozen=True)
class PlanHour:
    start_epoch: float
    p50_rps: float
    p90_rps: float
    planned_rps: float
    replicas: dict[str, int]


@dataclass(frozen=True)
class HourActual:
    mean_rps: float | None
    peak_rps: float | None
    ready_min: dict[str, int]  # service -> fewest ready replicas seen in the hour


@dataclass(frozen=True)
class HourRow:
    plan: PlanHour
    actual: HourActual

    @property
    def short_services(self) -> tuple[str, ...]:
        return tuple(s for s, want in self.plan.replicas.items()
                     if s in self.actual.ready_min and self.actual.ready_min[s] < want)

    @property
    def demand_over_plan(self) -> bool:
        return self.actual.peak_rps is not None and self.actual.peak_rps > self.plan.planned_rps

    @property
    def short(self) -> bool:
        return self.demand_over_plan or bool(self.short_services)


def epoch(stamp: str) -> float:
    t = datetime.fromisoformat(stamp)
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def parse_hours(text: str) -> list[PlanHour]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0][:5]) != FIXED_COLUMNS:
        raise PlanFileError(f"plan.csv: expected the columns {', '.join(FIXED_COLUMNS)}, ...")
    services = rows[0][5:]
    out = []
    for n, row in enumerate(rows[1:], start=2):
        try:
            values = [float(x) for x in row[1:5]]
            replicas = {s: int(x) for s, x in zip(services, row[5:], strict=True)}
            start = epoch(row[0])
        except ValueError as e:
            raise PlanFileError(f"plan.csv line {n}: {e}") from None
        if not all(math.isfinite(v) for v in values):
            raise PlanFileError(f"plan.csv line {n}: a number is not finite")
        out.append(PlanHour(start, values[0], values[1], values[3], replicas))
    return out


def read_plan_dir(path: Path) -> tuple[str, dict[str, Any], str]:
    """(app, plan.json, plan.csv text) of an `edgewise plan --out` directory."""
    try:
        doc = json.loads((path / "plan.json").read_text())
        text = (path / "plan.csv").read_text()
    except (OSError, ValueError) as e:
        raise PlanFileError(f"plan {path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("scenario"), str):
        raise PlanFileError(f"plan {path}: plan.json has no scenario")
    parse_hours(text)
    return str(doc["scenario"]), doc, text


def shifted(doc: dict[str, Any], text: str, seconds: float) -> tuple[dict[str, Any], str]:
    """The plan with every time moved by `seconds` (the demo moves its runs to end now)."""
    def move(stamp: str) -> str:
        return iso(epoch(stamp) + seconds)

    out = json.loads(json.dumps(doc))
    out["window"]["start"] = move(out["window"]["start"])
    out["event"]["start"], out["event"]["end"] = (move(out["event"]["start"]),
                                                  move(out["event"]["end"]))
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows[0])
    for row in rows[1:]:
        w.writerow([move(row[0]), *row[1:]])
    return out, buf.getvalue()


def _in_hour(points: Sequence[tuple[float, float]], start: float) -> list[float]:
    return [v for t, v in points if start <= t < start + HOUR_SECONDS and math.isfinite(v)]


def actual_hour(start: float, demand: Sequence[tuple[float, float]],
                ready: Mapping[str, Sequence[tuple[float, float]]]) -> HourActual:
    seen = _in_hour(demand, start)
    mins = {s: int(min(vs)) for s, pts in ready.items() if (vs := _in_hour(pts, start))}
    return HourActual(sum(seen) / len(seen) if seen else None, max(seen) if seen else None,
                      mins)


def compare(hours: Sequence[PlanHour], demand: Sequence[tuple[float, float]],
            ready: Mapping[str, Sequence[tuple[float, float]]]) -> list[HourRow]:
    return [HourRow(h, actual_hour(h.start_epoch, demand, ready)) for h in hours]


def window(hours: Sequence[PlanHour]) -> tuple[float, float]:
    return hours[0].start_epoch, hours[-1].start_epoch + HOUR_SECONDS

