from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from edgewise.place_cmd import add_parser

EX = Path(__file__).resolve().parents[2] / "examples"
TOPO, APP = str(EX / "fleet-small.yaml"), str(EX / "boutique-placement.yaml")


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgewise")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["place", *argv])
    code: int = args.func(args)
    return code


def test_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--topology", TOPO, "--app", APP, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["solver"] == "milp" and len(doc["stores"]) == 5
    assert (tmp_path / "manifests" / "store-001.yaml").exists()
    assert (tmp_path / "karmada" / "propagationpolicy.yaml").exists()
    assert (tmp_path / "plan.html").read_text().startswith("<!doctype html>")
    assert "solver milp" in capsys.readouterr().out


def test_failover_and_heuristic(tmp_path: Path) -> None:
    argv = ["--topology", TOPO, "--app", APP, "--out", str(tmp_path), "--solver", "heuristic",
            "--fail-wan", "store-001", "--fail-region", "us-west"]
    assert _run(argv) == 0
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["failover"]["wan_lost"] == ["store-001"]
    assert doc["failover"]["regions_down"] == ["us-west"]


def test_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--topology", TOPO, "--app", APP, "--why", "vision-inference",
                 "--site", "store-001"]) == 0
    assert "GpuAvailable" in capsys.readouterr().out


def _bad(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(("kind", "content", "expect"), [
    ("topology", "stores: [}", "not valid YAML"),
    ("topology", None, "No such file"),
    ("topology", "regions: []\nstores: []", "regions"),
    ("app", "entry: x\nservices: {a: {capacity_rps: 1}}", "unknown service 'x'"),
    ("app", "entry: a\nservices: {a: {capacity_rps: 1, annotations: {placement: {offline: 1}}}}",
     "placement.offline must be true or false"),
])
def test_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
                          content: str | None, expect: str) -> None:
    path = str(tmp_path / "missing.yaml") if content is None else _bad(tmp_path, "x.yaml", content)
    topo, app = (path, APP) if kind == "topology" else (TOPO, path)
    assert _run(["--topology", topo, "--app", app, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expect in err


@pytest.mark.parametrize(("flags", "expect"), [
    (["--fail-wan", "store-999"], "unknown store 'store-999' (known: store-001, store-002, "
                                  "store-003, store-004, store-005)"),
    (["--fail-site", "store-999"], "unknown store 'store-999' (known: store-001"),
    (["--degrade", "store-999=50%"], "unknown store 'store-999' (known: store-001"),
    (["--degrade", "store-001=half"], "--degrade 'store-001=half': expected STORE=PERCENT%"),
    (["--fail-region", "mars"], "unknown region 'mars'"),
    (["--why", "search"], "--why needs --site"),
    (["--why", "search", "--site", "nowhere"], "neither a store nor a region"),
    (["--why", "serch", "--site", "store-001"], "unknown service 'serch' (known: frontend"),
])
def test_bad_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                          expect: str) -> None:
    assert _run(["--topology", TOPO, "--app", APP, "--out", str(tmp_path), *flags]) == 2
    assert expect in capsys.readouterr().err


def test_infeasible_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (EX / "fleet-small.yaml").read_text().replace("cpu_millicores: 16000.0",
                                                         "cpu_millicores: 300.0", 1)
    topo = _bad(tmp_path, "tight.yaml", text)
    assert _run(["--topology", topo, "--app", APP, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    want = "store-001 has 0.3 vCPU free; live-inventory, bopis-promise, payment must run there"
    assert want in err


def test_why_is_checked_before_the_solve(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # an infeasible fleet: a solve would fail first with the capacity message
    text = (EX / "fleet-small.yaml").read_text().replace("cpu_millicores: 16000.0",
                                                         "cpu_millicores: 300.0", 1)
    topo = _bad(tmp_path, "tight.yaml", text)
    assert _run(["--topology", topo, "--app", APP, "--why", "serch", "--site", "store-001"]) == 2
    err = capsys.readouterr().err
    assert "unknown service 'serch'" in err and "vCPU free" not in err
    assert _run(["--topology", topo, "--app", APP, "--why", "search", "--site", "mars"]) == 2
    err = capsys.readouterr().err
    assert "'mars' is neither a store nor a region" in err and "vCPU free" not in err
