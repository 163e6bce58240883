"""An event plan's files as `edgewise plan` writes them (plan.json, and plan.csv with
planning/report.py's columns), small and by hand, for the API's tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

H = 3600


def plan_dir(d: Path, now: int, hours: int = 3, planned: float = 16.0, replicas: int = 3
             ) -> Path:
    """A plan as `edgewise plan` writes it (planning/report.py's columns), for app "shop",
    covering the `hours` hours up to `now` (the first a minute after `now` - `hours` h)."""
    d.mkdir(parents=True, exist_ok=True)
    start = now - hours * H + 60  # the API tests' store has ticks at now - 60 i
    stamp = [datetime.fromtimestamp(start + h * H, UTC).replace(tzinfo=None).isoformat()
             for h in range(hours)]
    rows = ["hour_start,p50_rps,p90_rps,burst,planned_rps,web,db"]
    rows += [f"{s},15.00,16.50,1.100,{planned + h:.2f},{replicas},1" for h, s in enumerate(stamp)]
    (d / "plan.csv").write_text("\n".join(rows) + "\n")
    (d / "plan.json").write_text(json.dumps({
        "scenario": "shop", "entry": "web",
        "event": {"name": "doorbuster", "start": stamp[1], "end": stamp[2], "multiplier": 3.0},
        "window": {"start": stamp[0], "hours": hours}, "sweep": []}))
    return d
