"""A bench run's `timeline.csv` (`evaluation/compare.py`: one row per tick and policy) read into
what the runs page draws: per policy, the total replicas and the end-to-end p95 over the run,
at most `MAX_POINTS` points (the mean replicas and the worst p95 of each bucket of ticks, so a
short spike still shows). A malformed file is a `PlanFileError` naming the file and line."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from edgewise.api.eventplan import PlanFileError, epoch

MAX_POINTS = 500
COLUMNS = ("time", "policy", "e2e_p95_latency_ms", "replicas_total")


def read_timeline(path: Path, max_points: int = MAX_POINTS) -> dict[str, dict[str, list[float]]]:
    """policy -> {"t": Unix seconds, "replicas": mean, "p95_ms": max} per bucket of ticks."""
    rows: dict[str, list[tuple[float, float, float]]] = {}
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise PlanFileError(f"bench timeline {path}: no column {', '.join(missing)}")
            for row in reader:
                try:
                    p95, replicas = float(row["e2e_p95_latency_ms"]), float(row["replicas_total"])
                    point = (epoch(row["time"]), replicas, p95)
                except (TypeError, ValueError) as e:
                    raise PlanFileError(f"bench timeline {path}: line {reader.line_num}: {e}"
                                        ) from None
                if not all(math.isfinite(x) for x in point):
                    raise PlanFileError(f"bench timeline {path}: line {reader.line_num}: "
                                        "not a finite number")
                rows.setdefault(row["policy"], []).append(point)
    except OSError as e:
        raise PlanFileError(f"bench timeline {path}: {e}") from None
    return {policy: _buckets(points, max_points) for policy, points in rows.items()}


def _buckets(points: list[tuple[float, float, float]], max_points: int) -> dict[str, list[float]]:
    size = max(1, math.ceil(len(points) / max_points))
    out: dict[str, Any] = {"t": [], "replicas": [], "p95_ms": []}
    for i in range(0, len(points), size):
        chunk = points[i : i + size]
        out["t"].append(chunk[0][0])
        out["replicas"].append(round(sum(p[1] for p in chunk) / len(chunk), 2))
        out["p95_ms"].append(max(p[2] for p in chunk))
    return out
