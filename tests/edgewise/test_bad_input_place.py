"""`edgewise place`: bad topology, app, flags and outputs exit 2 with one line naming the field;
site names cannot escape --out; a re-plan into the same --out removes its own stale manifests."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO, assert_bad_input, run_cli

EX = REPO / "examples"
FLEET: dict[str, Any] = yaml.safe_load((EX / "fleet-small.yaml").read_text())
APP = EX / "boutique-placement.yaml"
NAN, INF = math.nan, math.inf


def _fleet(tmp_path: Path, edit: Any = None, name: str = "fleet.yaml") -> Path:
    doc = copy.deepcopy(FLEET)
    if edit is not None:
        edit(doc)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def _place(topology: Path, out: Path, *extra: str | Path) -> Any:
    return run_cli("place", "--topology", topology, "--app", APP, "--solver", "heuristic",
                   "--out", out, *extra)


def _set(path: str, value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return edit


TOPOLOGY_CASES = [
    ("cpu nan", "stores.0.cpu_millicores", NAN, "stores[0] (store-001).cpu_millicores"),
    ("demand inf", "stores.1.demand_rps", INF, "stores[1] (store-002).demand_rps"),
    ("rtt nan", "stores.0.wan.rtt_ms.us-east", NAN, "rtt_ms"),
    ("availability nan", "stores.0.wan.availability", NAN, "availability"),
    ("price negative", "regions.0.vcpu_hour_usd", -1, "regions[0] (us-east).vcpu_hour_usd"),
    ("price nan", "regions.1.memory_gib_hour_usd", NAN, "memory_gib_hour_usd"),
    ("economics inf", "economics.wan_egress_usd_per_gb", INF, "wan_egress_usd_per_gb"),
    ("economics negative", "economics.edge_vcpu_hour_usd", -0.5, "edge_vcpu_hour_usd"),
    ("latitude nan", "stores.2.location.lat", NAN, "lat"),
    ("store name upper case", "stores.0.name", "Store_1", "not a DNS-1123 label"),
    ("store name with a dot", "stores.0.name", "store.001", "not a DNS-1123 label"),
    ("region name too long", "regions.0.name", "r" * 64, "not a DNS-1123 label"),
]


@pytest.mark.parametrize(("path", "value", "needle"), [c[1:] for c in TOPOLOGY_CASES],
                         ids=[c[0] for c in TOPOLOGY_CASES])
def test_bad_topology_fields(tmp_path: Path, path: str, value: Any, needle: str) -> None:
    assert_bad_input(_place(_fleet(tmp_path, _set(path, value)), tmp_path / "out"), needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../../escape", "ABS"])
def test_site_names_cannot_escape_out(tmp_path: Path, name: str) -> None:
    """Store names become manifests/<name>.yaml: `../../x` and `/abs/path` are refused at load,
    and nothing is written outside --out (on the old code both wrote a file outside it)."""
    work = tmp_path / "work"
    out = work / "out"
    (tmp_path / "abs").mkdir()
    target = str(tmp_path / "abs" / "owned") if name == "ABS" else name

    def rename(doc: dict[str, Any]) -> None:
        doc["stores"][0]["name"] = target

    topology = _fleet(tmp_path, rename)
    before = sorted(p for p in tmp_path.rglob("*"))
    r = _place(topology, out)
    assert_bad_input(r, "is not a DNS-1123 label")
    assert "stores[0]" in r.err
    after = sorted(p for p in tmp_path.rglob("*"))
    assert after == before, set(after) - set(before)


def test_region_name_cannot_escape_out(tmp_path: Path) -> None:
    def rename(doc: dict[str, Any]) -> None:
        doc["regions"][0]["name"] = "../r"
        for store in doc["stores"]:
            store["wan"]["rtt_ms"]["../r"] = store["wan"]["rtt_ms"].pop("us-east")

    assert_bad_input(_place(_fleet(tmp_path, rename), tmp_path / "out"), "regions[0]")


def test_replan_removes_its_stale_manifests_and_refuses_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _place(_fleet(tmp_path), out).code == 0
    assert (out / "manifests" / "store-005.yaml").exists()

    def close_store_005(doc: dict[str, Any]) -> None:
        doc["stores"] = [s for s in doc["stores"] if s["name"] != "store-005"]

    smaller = _fleet(tmp_path, close_store_005, "smaller.yaml")
    assert_bad_input(_place(smaller, out), "plan.json exists (use --force")
    assert (out / "manifests" / "store-005.yaml").exists()
    r = _place(smaller, out, "--force")
    assert r.code == 0, r.err
    assert not (out / "manifests" / "store-005.yaml").exists()
    assert (out / "manifests" / "store-004.yaml").exists()
    assert "removed stale manifests/store-005.yaml" in r.out


def test_replan_refuses_manifests_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "manifests").mkdir(parents=True)
    (out / "manifests" / "store-999.yaml").write_text("kind: Mine\n")
    assert_bad_input(_place(_fleet(tmp_path), out, "--force"),
                     "manifests/store-999.yaml was not written by `edgewise place`")
    assert (out / "manifests" / "store-999.yaml").read_text() == "kind: Mine\n"
    assert not (out / "plan.json").exists()


def test_out_never_overwrites_the_topology(tmp_path: Path) -> None:
    topology = _fleet(tmp_path, name="plan.json")
    assert_bad_input(_place(topology, tmp_path, "--force"), "would overwrite the input")
    assert yaml.safe_load(topology.read_text()) == FLEET


FILE_CASES = [
    ("missing", lambda d: d / "none.yaml", "No such file or directory"),
    ("directory", lambda d: d, "Is a directory"),
    ("binary", lambda d: (d / "b.yaml").write_bytes(b"\xff\xfe\x00") and d / "b.yaml",
     "not UTF-8 text"),
    ("not yaml", lambda d: (d / "y.yaml").write_text("a: [\n") and d / "y.yaml",
     "not valid YAML"),
]


@pytest.mark.parametrize(("make", "needle"), [c[1:] for c in FILE_CASES],
                         ids=[c[0] for c in FILE_CASES])
def test_unreadable_topology_file(tmp_path: Path, make: Any, needle: str) -> None:
    assert_bad_input(_place(make(tmp_path), tmp_path / "out"), needle)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--time-limit", "-5"], "--time-limit"),
    (["--time-limit", "nan"], "--time-limit"),
    (["--degrade", "store-002=nan%"], "--degrade"),
    (["--fail-wan", "store-404"], "unknown store 'store-404'"),
])
def test_bad_place_flags(tmp_path: Path, flags: list[str], needle: str) -> None:
    assert_bad_input(_place(_fleet(tmp_path), tmp_path / "out", *flags), needle)


def test_app_numbers_must_be_finite(tmp_path: Path) -> None:
    app = yaml.safe_load(APP.read_text())
    first = next(iter(app["services"]))
    app["services"][first].setdefault("annotations", {}).setdefault("placement", {})[
        "cpu_base_millicores"] = INF
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(app))
    r = run_cli("place", "--topology", _fleet(tmp_path), "--app", path, "--out", tmp_path / "o")
    assert_bad_input(r, "placement.cpu_base_millicores must be a finite")
