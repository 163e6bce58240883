"""Golden manifests, their structure, and plan.json against its JSON Schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from placement.failover import replan
from placement.framework import Failures, Problem
from placement.manifests import cluster_manifests, propagation_policies
from placement.mapview import render_html
from placement.milp import solve_milp
from placement.plan import Plan
from placement.report import plan_document, plan_schema

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def plan(small_problem: Problem) -> Plan:
    return solve_milp(small_problem)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs from golden (UPDATE_GOLDEN=1 to refresh)"


def test_cluster_manifests_golden(plan: Plan) -> None:
    manifests = cluster_manifests(plan)
    for cluster, text in manifests.items():
        _golden(f"manifests/{cluster}.yaml", text)
    assert sorted(p.stem for p in (GOLDEN / "manifests").glob("*.yaml")) == sorted(manifests)


def test_propagation_policy_golden(plan: Plan) -> None:
    _golden("karmada/propagationpolicy.yaml", propagation_policies(plan))


def _check_deployment(d: dict[str, Any]) -> None:
    assert d["apiVersion"] == "apps/v1"
    spec = d["spec"]
    assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"]
    (c,) = pod["containers"]
    assert c["resources"]["requests"]["cpu"].endswith("m")
    assert c["resources"]["requests"]["memory"].endswith("Mi")


def test_manifest_structure(plan: Plan) -> None:
    topo = plan.problem.ctx.topology
    for cluster, text in cluster_manifests(plan).items():
        docs = list(yaml.safe_load_all(text))
        kinds = [d["kind"] for d in docs]
        assert kinds == ["Deployment", "Service"] * (len(docs) // 2)
        for dep, svc in zip(docs[::2], docs[1::2], strict=True):
            _check_deployment(dep)
            assert svc["apiVersion"] == "v1" and svc["metadata"]["name"] == dep["metadata"]["name"]
            assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
            sel = dep["spec"]["template"]["spec"]["nodeSelector"]
            if cluster in topo.store_names:
                assert sel["edgewise.io/site"] == cluster
            else:
                assert sel["topology.kubernetes.io/region"] == cluster
            gpu = dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].get(
                "nvidia.com/gpu")
            assert (gpu is not None) == (sel.get("edgewise.io/gpu") == "true")


def test_propagation_policy_structure(plan: Plan) -> None:
    clusters = set(cluster_manifests(plan))
    docs = list(yaml.safe_load_all(propagation_policies(plan)))
    assert {d["metadata"]["name"] for d in docs} == set(plan.problem.ctx.app.names)
    for d in docs:
        assert d["apiVersion"] == "policy.karmada.io/v1alpha1" and d["kind"] == "PropagationPolicy"
        kinds = {s["kind"] for s in d["spec"]["resourceSelectors"]}
        assert kinds == {"Deployment", "Service"}
        placement = d["spec"]["placement"]
        names = placement["clusterAffinity"]["clusterNames"]
        assert set(names) <= clusters
        weights = placement["replicaScheduling"]["weightPreference"]["staticWeightList"]
        assert [w["targetCluster"]["clusterNames"][0] for w in weights] == names
        assert all(w["weight"] >= 1 for w in weights)


def test_plan_json_validates(plan: Plan) -> None:
    doc = json.loads(json.dumps(plan_document(plan)))
    jsonschema.Draft202012Validator.check_schema(plan_schema())
    jsonschema.validate(doc, plan_schema())
    f = replan(plan, Failures(wan_lost=frozenset({"store-001"}), regions_down=frozenset()))
    jsonschema.validate(json.loads(json.dumps(plan_document(f.after, f))), plan_schema())


def test_docs_describe_plan_json() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "placement.md").read_text()
    assert "## plan.json" in docs
    for field in plan_schema()["required"]:
        assert f"`{field}`" in docs


def test_html_is_self_contained(plan: Plan) -> None:
    topo = plan.problem.ctx.topology
    locs = {s.name: (s.location.lat, s.location.lon) for s in topo.stores}
    locs |= {r.name: (r.location.lat, r.location.lon) for r in topo.regions}
    html = render_html(plan_document(plan), locs)
    assert "<svg" in html and "store-003" in html
    assert "<script" not in html and "src=" not in html and "href=" not in html
