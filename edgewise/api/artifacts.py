"""Edgewise's own outputs put into the server's store at start: bench runs (`edgewise bench`
results.json and timeline.csv), event plans (`edgewise plan --out`), placement plans
(`edgewise place --out`, with the topology they were made for, for the map). Bad files are a
`PlanFileError` naming the file (exit 2); nothing stored is lost."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from edgewise.api.eventplan import PlanFileError, read_plan_dir, shifted
from edgewise.api.store import Store
from edgewise.api.timeline import read_timeline

TIMELINE = "timeline"  # the stored run's key for its timeline.csv, read by `timeline.py`


def _json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PlanFileError(f"{what} {path}: {e}") from None
    if not isinstance(doc, dict):
        raise PlanFileError(f"{what} {path}: not a JSON object")
    return doc


def load_bench(store: Store, path: Path) -> str:
    """A bench output directory (or its results.json), with the timeline.csv beside it if
    there is one; stored under the directory's name."""
    file = path / "results.json" if path.is_dir() else path
    doc = _json(file, "bench results")
    if not isinstance(doc.get("policies"), dict) or not isinstance(doc.get("scenario"), str):
        raise PlanFileError(f"bench results {file}: no scenario and policies")
    for name, p in doc["policies"].items():
        if not isinstance(p, dict) or not {"cost", "slo_violation_minutes"} <= set(p):
            raise PlanFileError(f"bench results {file}: policy {name!r} lacks cost or "
                                "slo_violation_minutes")
    timeline = file.parent / "timeline.csv"
    if timeline.exists():
        doc = {**doc, TIMELINE: read_timeline(timeline)}
    name = file.parent.name if file.name == "results.json" else file.stem
    store.put_run(name, doc["scenario"], doc)
    return name


def load_plan(store: Store, path: Path, shift_seconds: float = 0.0) -> str:
    app, doc, text = read_plan_dir(path)
    if shift_seconds:
        doc, text = shifted(doc, text, shift_seconds)
    raw = f"{app}-{doc.get('event', {}).get('name', 'event')}".lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw)[:63].strip("-") or "plan"
    store.put_plan(name, app, json.dumps(doc, sort_keys=True), text)
    return name


def load_placement(store: Store, path: Path, topology: Path) -> str:
    from placement.errors import PlacementError
    from placement.topology import load_topology

    file = path / "plan.json" if path.is_dir() else path
    doc = _json(file, "placement plan")
    if doc.get("kind") != "PlacementPlan" or not isinstance(doc.get("stores"), list):
        raise PlanFileError(f"placement plan {file}: not a PlacementPlan of `edgewise place`")
    try:
        topo = load_topology(topology)
    except PlacementError as e:
        raise PlanFileError(str(e)) from None
    locations = {s.name: (s.location.lat, s.location.lon) for s in topo.stores}
    locations |= {r.name: (r.location.lat, r.location.lon) for r in topo.regions}
    named = {s["name"] for s in doc["stores"]} | set(doc.get("regions", []))
    missing = sorted(named - set(locations))
    if missing:
        raise PlanFileError(f"placement plan {file}: {', '.join(missing[:5])} not in the "
                            f"topology {topology}")
    name = f"{doc.get('app', 'app')}-on-{doc.get('topology', 'fleet')}"
    store.put_placement(name, doc, locations)
    return name
