"""`policy.type: rl` in the controller: the shipped model (the graph-conditioned policy) drives
the boutique graph and any other app; a broken model, or one whose observation schema is not this
code's, becomes a load error (the controller's Fallback reason), never a crash."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from controller.assembly import assemble
from controller.spec import parse_spec
from envs.graph import load_graph, parse_graph
from envs.scenario import load_scenario
from envs.twin import Twin

pytest.importorskip("stable_baselines3")

START = datetime(2026, 11, 27)


def spec(model: str, services: tuple[str, ...]) -> object:
    return parse_spec({
        "targets": [{"name": s, "service": s} for s in services],
        "graph": {"inline": {"x": 1}},
        "policy": {"type": "rl", "model": {"path": model}},
    })


def test_default_model_drives_the_boutique_graph() -> None:
    graph = load_graph("boutique")
    policies = assemble(spec("default", graph.names), graph, START)  # type: ignore[arg-type]
    assert policies.unready is None and policies.primary is not None
    sc = load_scenario("flash-sale")
    _, run = sc.demand(0)
    twin = Twin(sc.config(), run[:5], START)
    twin.reset(np.full(12, 3))
    desired = policies.primary.decide(twin.observe())
    assert desired.shape == (12,) and (desired >= 1).all()


@pytest.mark.parametrize(("make", "needle"), [
    (lambda d: d / "missing", "not a directory"),
    (lambda d: (d / "m").mkdir() or d / "m", "no manifest.json"),
])
def test_broken_models_become_load_errors(tmp_path: Path, make: object, needle: str) -> None:
    graph = load_graph("boutique")
    path = make(tmp_path)  # type: ignore[operator]
    policies = assemble(spec(str(path), graph.names), graph, START)  # type: ignore[arg-type]
    assert policies.primary is None and policies.unready is not None
    assert policies.unready.reason == "ModelLoadFailed" and needle in policies.unready.message


def test_the_default_graph_model_drives_an_app_it_never_saw() -> None:
    graph = parse_graph({"entry": "web", "services": {"web": {"capacity_rps": 10},
                                                      "db": {"capacity_rps": 20}},
                         "calls": [{"from": "web", "to": "db"}]})
    policies = assemble(spec("default", graph.names), graph, START)  # type: ignore[arg-type]
    assert policies.unready is None and policies.primary is not None


def test_a_model_whose_schema_is_not_this_codes_is_refused(tmp_path: Path) -> None:
    import json
    import shutil

    from scaler.learned.runtime import default_model_dir

    model = Path(shutil.copytree(default_model_dir(), tmp_path / "m"))
    m = json.loads((model / "manifest.json").read_text())
    m["observation_schema"][0]["name"] = "service.something_else"
    (model / "manifest.json").write_text(json.dumps(m))
    graph = load_graph("boutique")
    policies = assemble(spec(str(model), graph.names), graph, START)  # type: ignore[arg-type]
    assert policies.primary is None and policies.unready is not None
    message = policies.unready.message.lower()
    assert "schema" in message or "graph" in message
