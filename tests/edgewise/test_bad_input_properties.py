"""Property: whatever values and types a scenario, graph or topology YAML holds, the CLI exits 0
or 2 (never 1, never a traceback), a bad document gets one stderr line, and the JSON it writes is
strict (no NaN, no Infinity). Documents are a valid one with random fields replaced by random
values of random types (numbers including NaN, infinities and huge ones, strings, lists,
mappings, null, booleans); durations stay short so each example runs in well under a second."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.cli import REPO, Result, run_cli

EXAMPLES = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -0.0, 1e-300, "nan", "inf", "", "7d", "x" * 70, "../../x",
                     "2026-10-06T12:00:00+05:00", "Store_1"]),
    st.text(max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
# durations: short valid ones or junk that is refused before any simulation
DURATIONS = st.one_of(st.sampled_from(["1h", "2h", "90m", 3600, 7200, "0s", "1e3d", "-1h"]),
                      st.floats(allow_nan=True, allow_infinity=True).filter(
                          lambda x: not 0 < x < 10**7), SCALARS.filter(
                          lambda x: not isinstance(x, int | float) or isinstance(x, bool)))


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def _assert_clean(r: Result) -> None:
    assert r.code in (0, 2), (r.code, r.err)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    if r.code == 2:
        assert len(r.err_lines) == 1, r.err


SCENARIO: dict[str, Any] = {
    "name": "p", "graph": "g.yaml", "start": "2026-10-06T11:00:00", "duration": "2h",
    "history": "1d", "tick_seconds": 60,
    "slo": {"p95_latency_ms": 400, "max_error_ratio": 0.001},
    "prices": {"cloud_vcpu_hour": 0.048, "edge_vcpu_hour": 0.07},
    "workload": {"base_rps": 50, "noise_cv": 0.05, "trend_per_week": 0.01},
    "events": [{"name": "e", "start": "2026-10-06T12:00:00", "multiplier": 3, "ramp": "10m",
                "peak": "20m", "decay": "10m", "announced": True}],
}
GRAPH: dict[str, Any] = {
    "entry": "web",
    "services": {"web": {"capacity_rps": 40, "concurrency": 4, "max_replicas": 20},
                 "api": {"capacity_rps": 60, "startup_seconds": 30},
                 "db": {"capacity_rps": 90, "min_replicas": 2, "price_class": "edge"}},
    "calls": [{"from": "web", "to": "api", "fanout": 1.5}, {"from": "api", "to": "db"}],
}
SCENARIO_PATHS = [("name",), ("start",), ("slo", "p95_latency_ms"), ("slo", "max_error_ratio"),
                  ("slo",), ("prices", "cloud_vcpu_hour"), ("prices",), ("workload", "base_rps"),
                  ("workload", "noise_cv"), ("workload", "trend_per_week"),
                  ("workload", "daily_profile"), ("workload",), ("events", 0, "multiplier"),
                  ("events", 0, "start"), ("events", 0, "announced"), ("events", 0),
                  ("events",), ("tick_seconds",), ("graph",)]
GRAPH_PATHS = [("entry",), ("services",), ("services", "web"), ("services", "web", "capacity_rps"),
               ("services", "api", "concurrency"), ("services", "api", "startup_seconds"),
               ("services", "db", "min_replicas"), ("services", "web", "max_replicas"),
               ("services", "db", "price_class"), ("services", "db", "annotations"),
               ("services", "web", "cpu_request_millicores"), ("calls",), ("calls", 0),
               ("calls", 0, "fanout"), ("calls", 1, "to")]


def _put(doc: Any, path: tuple[str | int, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _mutated(base: dict[str, Any], paths: list[tuple[str | int, ...]],
             edits: list[tuple[int, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for index, value in edits:
        # an earlier edit may have replaced a parent: the document is already junk there
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _put(doc, paths[index % len(paths)], value)
    return doc


def _edits(paths: list[tuple[str | int, ...]]) -> Any:
    return st.lists(st.tuples(st.integers(0, len(paths) - 1), VALUES), max_size=3)


@EXAMPLES
@given(scenario_edits=_edits(SCENARIO_PATHS), graph_edits=_edits(GRAPH_PATHS),
       duration=DURATIONS, history=st.one_of(st.just("1d"), DURATIONS))
def test_random_scenario_and_graph_documents(scenario_edits: list[tuple[int, Any]],
                                             graph_edits: list[tuple[int, Any]],
                                             duration: Any, history: Any) -> None:
    scenario = _mutated(SCENARIO, SCENARIO_PATHS, scenario_edits)
    scenario["duration"], scenario["history"] = duration, history
    graph = _mutated(GRAPH, GRAPH_PATHS, graph_edits)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "g.yaml").write_text(yaml.safe_dump(graph))
        (root / "s.yaml").write_text(yaml.safe_dump(scenario))
        r = run_cli("simulate", "--scenario", root / "s.yaml", "--out", root / "t.csv")
    _assert_clean(r)
    if r.code == 0:
        _strict(r.out)


FLEET: dict[str, Any] = yaml.safe_load((REPO / "examples" / "fleet-small.yaml").read_text())
TOPOLOGY_PATHS = [("name",), ("regions",), ("regions", 0, "name"), ("regions", 0, "vcpu_hour_usd"),
                  ("regions", 1, "gpu_hour_usd"), ("regions", 0, "location", "lat"),
                  ("stores",), ("stores", 0), ("stores", 0, "name"), ("stores", 1, "name"),
                  ("stores", 0, "cpu_millicores"), ("stores", 2, "memory_mib"),
                  ("stores", 3, "gpus"), ("stores", 1, "demand_rps"),
                  ("stores", 4, "shopper_rtt_ms"), ("stores", 0, "wan", "rtt_ms"),
                  ("stores", 0, "wan", "rtt_ms", "us-east"), ("stores", 2, "wan", "availability"),
                  ("stores", 3, "wan", "bandwidth_mbps"), ("economics",),
                  ("economics", "edge_vcpu_hour_usd"), ("economics", "wan_bandwidth_headroom")]


@EXAMPLES
@given(edits=_edits(TOPOLOGY_PATHS))
@example(edits=[(19, {"\r": None})])  # found by this test: a key with a line break in the error
def test_random_topology_documents(edits: list[tuple[int, Any]]) -> None:
    topology = _mutated(FLEET, TOPOLOGY_PATHS, edits)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        out = root / "work" / "out"
        (root / "fleet.yaml").write_text(yaml.safe_dump(topology))
        r = run_cli("place", "--topology", root / "fleet.yaml", "--app",
                    REPO / "examples" / "boutique-placement.yaml", "--solver", "heuristic",
                    "--out", out)
        _assert_clean(r)
        written = [p for p in root.rglob("*") if p.is_file()]
        assert all(p == root / "fleet.yaml" or p.is_relative_to(out) for p in written), written
        if r.code == 0:
            _strict((out / "plan.json").read_text())


def test_the_strict_check_catches_nan() -> None:
    """The property's JSON check is not vacuous."""
    try:
        _strict(json.dumps({"x": math.nan}))
    except AssertionError:
        return
    raise AssertionError("NaN passed the strict check")
