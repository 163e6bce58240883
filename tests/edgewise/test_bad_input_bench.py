"""`edgewise simulate | bench`: every class of bad scenario, graph, trace, file, output and flag
exits 2 with one stderr line naming the field or path (run through the real entry point)."""

from __future__ import annotations

import argparse
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.cli import _input_problem, run
from tests.support.cli import AS_ROOT, assert_bad_input, run_cli

BASE: dict[str, Any] = {"name": "s", "start": "2026-10-06T11:00:00", "duration": "2h",
                        "history": "1d"}
GRAPH: dict[str, Any] = {"entry": "web", "services": {"web": {"capacity_rps": 50},
                                                      "db": {"capacity_rps": 80}},
                         "calls": [{"from": "web", "to": "db", "fanout": 1.5}]}
NAN, INF = math.nan, math.inf


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def _simulate(tmp_path: Path, scenario: dict[str, Any], *extra: str) -> Any:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(scenario))
    return run_cli("simulate", "--scenario", f, "--out", tmp_path / "timeline.csv", *extra)


SCENARIO_CASES = [
    ("duration bound", {"duration": "99999d"}, "bound of 400 days"),
    ("duration inf", {"duration": INF}, "finite"),
    ("duration negative", {"duration": -60}, "duration"),
    ("history bound", {"history": "9999w"}, "'history'"),
    ("tick count bound", {"tick_seconds": 1, "duration": "20d"}, "ticks, more than the bound"),
    ("tick not whole", {"tick_seconds": 0.5}, "tick_seconds"),
    ("slo p95 zero", {"slo": {"p95_latency_ms": 0}}, "p95_latency_ms' must be > 0"),
    ("slo p95 negative", {"slo": {"p95_latency_ms": -5}}, "p95_latency_ms"),
    ("slo p95 nan", {"slo": {"p95_latency_ms": NAN}}, "p95_latency_ms' must be a finite"),
    ("slo error ratio", {"slo": {"max_error_ratio": 2}}, "max_error_ratio"),
    ("slo not a mapping", {"slo": [1]}, "'slo'"),
    ("price negative", {"prices": {"cloud_vcpu_hour": -1}}, "cloud_vcpu_hour' must be >= 0"),
    ("price nan", {"prices": {"edge_vcpu_hour": NAN}}, "edge_vcpu_hour"),
    ("price unknown", {"prices": {"gpu_hour": 1}}, "unknown field 'gpu_hour'"),
    ("base_rps nan", {"workload": {"base_rps": NAN}}, "base_rps"),
    ("base_rps inf", {"workload": {"base_rps": INF}}, "base_rps' must be a finite"),
    ("base_rps zero", {"workload": {"base_rps": 0}}, "base_rps"),
    ("base_rps text", {"workload": {"base_rps": "lots"}}, "base_rps' must be a number"),
    ("profile nan", {"workload": {"daily_profile": [NAN] * 24}}, "daily_profile[0]"),
    ("noise inf", {"workload": {"noise_cv": INF}}, "noise_cv"),
    ("workload unknown", {"workload": {"spikes": 3}}, "unknown field 'spikes'"),
    ("event multiplier nan",
     {"events": [{"name": "e", "start": "2026-10-06T12:00:00", "multiplier": NAN}]},
     "multiplier' must be a finite"),
    ("event multiplier inf",
     {"events": [{"name": "e", "start": "2026-10-06T12:00:00", "multiplier": INF}]},
     "multiplier"),
    ("event multiplier bound",
     {"events": [{"name": "e", "start": "2026-10-06T12:00:00", "multiplier": 1e12}]},
     "multiplier' must be at most 1000"),
    ("event announced text",
     {"events": [{"name": "e", "start": "2026-10-06T12:00:00", "multiplier": 2,
                  "announced": "yes"}]}, "announced"),
    ("event start", {"events": [{"name": "e", "start": "tomorrow", "multiplier": 2}]},
     "events[0].start"),
    ("events not a list", {"events": {"name": "e"}}, "'events'"),
    ("trace_scale nan", {"trace": "t.csv", "trace_scale": NAN}, "trace_scale"),
]


@pytest.mark.parametrize(("patch", "needle"), [c[1:] for c in SCENARIO_CASES],
                         ids=[c[0] for c in SCENARIO_CASES])
def test_bad_scenario_fields(tmp_path: Path, patch: dict[str, Any], needle: str) -> None:
    (tmp_path / "t.csv").write_text("timestamp,rate\n" + "".join(
        f"{t * 60},5\n" for t in range(26 * 60)))
    assert_bad_input(_simulate(tmp_path, _merge(BASE, patch)), needle)


GRAPH_CASES = [
    ("capacity nan", {"services": {"db": {"capacity_rps": NAN}}}, "capacity_rps' must be a fin"),
    ("capacity inf", {"services": {"db": {"capacity_rps": INF}}}, "capacity_rps"),
    ("max_replicas bound", {"services": {"db": {"capacity_rps": 9, "max_replicas": 1e12}}},
     "max_replicas' must be at most 10000"),
    ("startup inf", {"services": {"db": {"capacity_rps": 9, "startup_seconds": INF}}},
     "startup_seconds"),
    ("annotations not a mapping", {"services": {"db": {"capacity_rps": 9, "annotations": [1]}}},
     "annotations"),
    ("entry a list", {"entry": ["web"]}, "'entry'"),
]


@pytest.mark.parametrize(("patch", "needle"), [c[1:] for c in GRAPH_CASES],
                         ids=[c[0] for c in GRAPH_CASES])
def test_bad_graph_fields(tmp_path: Path, patch: dict[str, Any], needle: str) -> None:
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(_merge(GRAPH, patch)))
    assert_bad_input(_simulate(tmp_path, {**BASE, "graph": "g.yaml"}), needle)


def test_bad_fanout_names_the_call(tmp_path: Path) -> None:
    graph = {**GRAPH, "calls": [{"from": "web", "to": "db", "fanout": NAN}]}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(graph))
    assert_bad_input(_simulate(tmp_path, {**BASE, "graph": "g.yaml"}), "call web->db")


TRACE_CASES = [
    ("timestamp nan", "timestamp,rate\n0,1\nnan,1\n", "line 3: timestamp 'nan'"),
    ("timestamp inf", "timestamp,rate\n0,1\ninf,1\n", "line 3: timestamp 'inf'"),
    ("events timestamp -inf", "timestamp\n0\n-inf\n", "line 3: timestamp '-inf'"),
    ("duplicate timestamp", "timestamp,rate\n0,1\n60,1\n60,2\n", "line 4: duplicate timestamp"),
    ("rate inf", "timestamp,rate\n0,inf\n", "rate must be a finite"),
]


@pytest.mark.parametrize(("text", "needle"), [c[1:] for c in TRACE_CASES],
                         ids=[c[0] for c in TRACE_CASES])
def test_bad_trace_rows(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "t.csv").write_text(text)
    assert_bad_input(_simulate(tmp_path, {**BASE, "trace": "t.csv"}), needle)


def test_start_offset_is_converted_to_utc_like_traces(tmp_path: Path) -> None:
    r = _simulate(tmp_path, {**BASE, "start": "2026-10-06T13:00:00+02:00"})
    assert r.code == 0, r.err
    first_row = (tmp_path / "timeline.csv").read_text().splitlines()[1]
    assert first_row.startswith("2026-10-06T11:00:00,"), first_row


def _binary(p: Path) -> Path:
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    return p


FILE_CASES = [
    ("missing", lambda d: d / "gone.yaml", "No such file or directory"),
    ("a directory", lambda d: (d / "dir.yaml").mkdir() or d / "dir.yaml", "Is a directory"),
    ("binary", lambda d: _binary(d / "bin.yaml"), "not UTF-8 text"),
]


@pytest.mark.parametrize(("make", "needle"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_unreadable_scenario_file(tmp_path: Path, make: Any, needle: str) -> None:
    path = make(tmp_path)
    r = run_cli("simulate", "--scenario", path, "--out", tmp_path / "t.csv")
    assert_bad_input(r, needle)
    assert str(path.name) in r.err


def test_binary_graph_and_trace_name_their_file(tmp_path: Path) -> None:
    _binary(tmp_path / "g.yaml")
    assert_bad_input(_simulate(tmp_path, {**BASE, "graph": "g.yaml"}), "graph file")
    _binary(tmp_path / "t.csv")
    assert_bad_input(_simulate(tmp_path, {**BASE, "trace": "t.csv"}), "t.csv")


@pytest.mark.skipif(AS_ROOT, reason="root reads through permission bits")
def test_unreadable_permission_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(BASE))
    f.chmod(0)
    assert_bad_input(run_cli("simulate", "--scenario", f, "--out", tmp_path / "t.csv"),
                     "Permission denied")


def test_permission_denied_and_non_database_map_to_one_line() -> None:
    """The handler's mapping itself (root cannot provoke EACCES on a file)."""
    args = argparse.Namespace(registry=Path("/r.db"))
    assert _input_problem(PermissionError(13, "Permission denied", "/x/out"), args) == \
        "'/x/out': Permission denied"
    assert _input_problem(sqlite3.DatabaseError("file is not a database"), args) == \
        "registry '/r.db': file is not a database"
    assert _input_problem(RuntimeError("boom"), args) is None


def test_outputs_are_refused_unless_force_and_never_an_input(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "t.csv"
    out.write_text("mine\n")
    assert_bad_input(run_cli("simulate", "--scenario", scenario, "--out", out),
                     "exists (use --force")
    assert out.read_text() == "mine\n"
    for extra in ((), ("--force",)):
        assert_bad_input(run_cli("simulate", "--scenario", scenario, "--out", scenario, *extra),
                         "is also an input")
    assert yaml.safe_load(scenario.read_text()) == BASE
    assert_bad_input(run_cli("simulate", "--scenario", scenario, "--out", tmp_path),
                     "is a directory")
    assert run_cli("simulate", "--scenario", scenario, "--out", out, "--force").code == 0
    assert out.read_text().startswith("time,policy")


def test_bench_refuses_existing_results_and_a_file_as_out(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "o"
    out.mkdir()
    (out / "results.json").write_text("{}")
    args = ("bench", "--scenario", scenario, "--policies", "hpa", "--jobs", "1")
    assert_bad_input(run_cli(*args, "--out", out), "results.json exists")
    assert (out / "results.json").read_text() == "{}"
    assert_bad_input(run_cli(*args, "--out", scenario), "is not a directory")


FLAG_CASES = [
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**40)], "--seed"),
    (["--jobs", "0"], "--jobs"),
    (["--policies", "magic"], "unknown policy 'magic'"),
]


@pytest.mark.parametrize(("flags", "needle"), FLAG_CASES)
def test_bench_flags(tmp_path: Path, flags: list[str], needle: str) -> None:
    assert_bad_input(run_cli("bench", "--scenario", "black-friday", *flags, "--out", tmp_path),
                     needle)


def _boom(args: argparse.Namespace) -> int:
    raise ZeroDivisionError("a genuine bug")


def test_a_bug_exits_1_saying_where_to_report_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argparse.Namespace(func=_boom, debug=False)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "internal error: ZeroDivisionError: a genuine bug" in err and "issue tracker" in err
    assert run(argparse.Namespace(func=_boom, debug=True)) == 1
    assert "Traceback" in capsys.readouterr().err


def test_evaluate_refuses_existing_results_before_loading_anything(tmp_path: Path) -> None:
    from edgewise.train_cmd import ml_available

    if not ml_available():
        pytest.skip("evaluate needs the ml extra")
    (tmp_path / "report.html").write_text("mine")
    r = run_cli("evaluate", "--model", tmp_path / "no-model", "--scenario", "black-friday",
                "--out", tmp_path)
    assert_bad_input(r, "report.html exists (use --force")
    assert (tmp_path / "report.html").read_text() == "mine"
