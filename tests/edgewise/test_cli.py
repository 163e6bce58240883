"""The console script: outputs, and exit code 2 with one line naming the problem on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EDGEWISE = [sys.executable, "-m", "edgewise.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEWISE, *args], capture_output=True, text=True, timeout=300)


def scenario_file(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(body)
    return f


SHORT = """name: short
graph: boutique
start: 2026-10-06T11:00:00
duration: 3h
history: 14d
events:
  - {name: promo, start: 2026-10-06T12:00:00, multiplier: 4, ramp: 10m, peak: 30m, decay: 10m}
"""


def test_bench_writes_results_timeline_and_report(tmp_path: Path) -> None:
    sc = scenario_file(tmp_path, SHORT)
    r = run(
        "bench",
        "--scenario",
        str(sc),
        "--policies",
        "hpa,oracle,static-peak",
        "--jobs",
        "1",
        "--out",
        str(tmp_path / "out"),
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["scenario"] == "short" and res["duration_seconds"] == 3 * 3600
    assert list(res["policies"]) == ["hpa", "oracle", "static-peak"]
    rows = (tmp_path / "out" / "timeline.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 180
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<svg" in html and "oracle" in html and "SLO violation minutes" in html


def test_simulate_writes_a_timeline(tmp_path: Path) -> None:
    sc = scenario_file(tmp_path, SHORT)
    r = run("simulate", "--scenario", str(sc), "--policy", "keda", "--out", str(tmp_path / "t.csv"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["keda"]["replica_hours"] > 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 181


BAD_GRAPH = (
    "entry: web\nservices:\n  web: {capacity_rps: 10}\n  db: {capacity_rps: 0}\n"
    "calls:\n  - {from: web, to: db}\n"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["bench", "--scenario", "no-such-scenario", "--out", "x"],
            "unknown scenario 'no-such-scenario'",
        ),
        (
            ["bench", "--scenario", "black-friday", "--policies", "magic", "--out", "x"],
            "unknown policy 'magic'",
        ),
        (
            ["bench", "--scenario", "black-friday", "--seed", "soon", "--out", "x"],
            "argument --seed: expected a whole number, got 'soon'",
        ),
        (["bench", "--scenario", "black-friday"], "the following arguments are required: --out"),
        (["teleport"], "invalid choice: 'teleport'"),
    ],
)
def test_bad_flags_and_names_exit_2_with_one_line(args: list[str], message: str) -> None:
    r = run(*args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr


def test_malformed_graph_exits_2(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text(BAD_GRAPH)
    sc = scenario_file(tmp_path, SHORT.replace("graph: boutique", "graph: g.yaml"))
    r = run("bench", "--scenario", str(sc), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "edgewise: error: service 'db': field 'capacity_rps' must be > 0, got 0"
    ]


def test_bad_csv_trace_exits_2(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "timestamp,rate\n2026-01-01T00:00:00,1\n2026-01-01T00:01:00,x\n"
    )
    sc = scenario_file(tmp_path, SHORT + "trace: t.csv\n")
    r = run("bench", "--scenario", str(sc), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip() == "edgewise: error: trace 't.csv' line 3: unparseable rate 'x'"
