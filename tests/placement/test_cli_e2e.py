"""`edgewise place` as users run it: the installed console script in a subprocess, its stdout,
stderr, exit code and plan.json. Marked e2e; needs no root and opens no sockets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

EX = Path(__file__).resolve().parents[2] / "examples"
TOPO, APP = str(EX / "fleet-small.yaml"), str(EX / "boutique-placement.yaml")
SCRIPT = Path(sys.executable).with_name("edgewise")


def _place(*argv: str) -> subprocess.CompletedProcess[str]:
    exe = str(SCRIPT) if SCRIPT.exists() else shutil.which("edgewise")
    if exe is None:
        pytest.skip("the edgewise console script is not installed (pip install -e .)")
    return subprocess.run([exe, "place", "--topology", TOPO, "--app", APP, *argv],
                          capture_output=True, text=True, timeout=300, check=False)


def _plan(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "plan.json").read_text())
    return doc


def test_fail_site(tmp_path: Path) -> None:
    r = _place("--out", str(tmp_path), "--fail-site", "store-005")
    assert r.returncode == 0, r.stderr
    assert "HiGHS" not in r.stdout  # the solver's banner and log stay off stdout
    f = _plan(tmp_path)["failover"]
    assert f["sites_down"] == ["store-005"] and f["affected_stores"] == ["store-005"]
    assert {"payment", "live-inventory", "bopis-promise"} <= set(f["lost_after"]["store-005"])
    store = next(s for s in _plan(tmp_path)["stores"] if s["name"] == "store-005")
    sites = {a["service"]: a for a in store["assignments"]}
    assert sites["search"]["site_kind"] == "cloud"  # served from the cloud where allowed
    assert any(m["service"] == "search" and m["from"] == "store-005" for m in f["moves"])
    assert sites["payment"]["reason"] == "Unreachable"
    assert "edge cluster is down" in sites["payment"]["message"]
    assert "services lost" in r.stdout and "penalties" in r.stdout


def test_degrade(tmp_path: Path) -> None:
    r = _place("--out", str(tmp_path), "--degrade", "store-005=90%", "--solver", "heuristic")
    assert r.returncode == 0, r.stderr
    doc = _plan(tmp_path)
    assert doc["failover"]["degraded"] == {"store-005": 0.9}
    usage = next(s for s in doc["stores"] if s["name"] == "store-005")["usage"]
    assert usage["cpu_capacity_millicores"] == pytest.approx(1600.0)
    assert usage["cpu_millicores"] <= usage["cpu_capacity_millicores"]
    assert doc["failover"]["moves"]


@pytest.mark.parametrize(("argv", "expect"), [
    (["--degrade", "store-005=150%"], "must be > 0 and < 100"),
    (["--degrade", "store-002=95%"], "store-002"),
    (["--fail-site", "store-9"], "unknown store 'store-9' (known: store-001"),
])
def test_bad_failures_exit_2(tmp_path: Path, argv: list[str], expect: str) -> None:
    r = _place("--out", str(tmp_path), *argv)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and expect in r.stderr, r.stderr
    assert not (tmp_path / "plan.json").exists()
