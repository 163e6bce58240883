"""Kubernetes manifests per cluster, and a Karmada PropagationPolicy export, for a plan.

Each store's edge cluster and each cloud region is one cluster. A cloud cluster runs one
Deployment per service for all the stores homed there. Replicas are sized so their CPU requests
cover the plan's CPU; node selectors pin edge pods to the store's nodes (and GPU nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from placement.framework import EDGE
from placement.plan import Plan

NAMESPACE = "edgewise"
KARMADA_POLICY_API = "policy.karmada.io/v1alpha1"


@dataclass(frozen=True)
class Workload:
    cluster: str
    edge: bool
    service: str
    replicas: int
    cpu_millicores: int  # per replica
    memory_mib: int  # per replica
    gpus: int  # per replica


def _sized(plan: Plan, cluster: str, edge: bool, j: int, cpu: float, mem: float,
           gpus: float) -> Workload:
    svc = plan.problem.ctx.app.graph.services[j]
    replicas = max(1, math.ceil(cpu / svc.cpu_request_millicores - 1e-9))
    per_gpu = 0
    if gpus > 0:
        replicas, per_gpu = (1, 1) if edge else (max(1, math.ceil(gpus - 1e-9)), 1)
    return Workload(cluster, edge, svc.name, replicas, math.ceil(cpu / replicas),
                    math.ceil(mem / replicas), per_gpu)


def workloads(plan: Plan) -> list[Workload]:
    """One workload per (cluster, service) the plan uses, edge clusters first, sorted by name."""
    p = plan.problem
    ctx = p.ctx
    rps = ctx.rps()
    out: list[Workload] = []
    for s, store in enumerate(ctx.topology.stores):
        for j in range(p.shape[1]):
            if plan.site[s, j] == EDGE:
                out.append(_sized(plan, store.name, True, j, p.cpu_millicores[s, j],
                                  p.memory_mib[s, j], p.gpus[j]))
    for r, region in enumerate(ctx.topology.regions):
        for j, req in enumerate(ctx.app.requirements):
            here = plan.site[:, j] == 1 + r
            if here.any():
                gpus = req.gpus_per_rps * float(rps[here, j].sum()) if req.needs_gpu else 0.0
                out.append(_sized(plan, region.name, False, j,
                                  float(p.cpu_millicores[here, j].sum()),
                                  float(p.memory_mib[here, j].sum()), gpus))
    return out


def _labels(w: Workload, app: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": w.service, "app.kubernetes.io/part-of": app,
            "app.kubernetes.io/managed-by": "edgewise"}


def _deployment(w: Workload, app: str) -> dict[str, Any]:
    selector = ({"edgewise.io/site": w.cluster} if w.edge
                else {"topology.kubernetes.io/region": w.cluster})
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": f"{w.cpu_millicores}m", "memory": f"{w.memory_mib}Mi"},
        "limits": {"memory": f"{w.memory_mib}Mi"},
    }
    if w.gpus:
        selector["edgewise.io/gpu"] = "true"
        resources["limits"]["nvidia.com/gpu"] = str(w.gpus)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": w.service, "namespace": NAMESPACE, "labels": _labels(w, app),
                     "annotations": {"edgewise.io/cluster": w.cluster}},
        "spec": {
            "replicas": w.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.service}},
            "template": {
                "metadata": {"labels": _labels(w, app)},
                "spec": {"nodeSelector": selector, "containers": [{
                    "name": w.service, "image": f"registry.example.com/{app}/{w.service}:stable",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": resources,
                }]},
            },
        },
    }


def _service(w: Workload, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": w.service, "namespace": NAMESPACE, "labels": _labels(w, app)},
        "spec": {"selector": {"app.kubernetes.io/name": w.service},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def cluster_manifests(plan: Plan) -> dict[str, str]:
    """cluster name -> multi-document YAML (a Deployment and a Service per service)."""
    app = plan.problem.ctx.app.graph.name
    docs: dict[str, list[dict[str, Any]]] = {}
    for w in workloads(plan):
        docs.setdefault(w.cluster, []).extend([_deployment(w, app), _service(w, app)])
    return {c: yaml.safe_dump_all(d, sort_keys=False) for c, d in docs.items()}


def propagation_policies(plan: Plan) -> str:
    """One Karmada PropagationPolicy per service: the clusters it runs on, replicas as weights."""
    by_service: dict[str, list[Workload]] = {}
    for w in workloads(plan):
        by_service.setdefault(w.service, []).append(w)
    docs = []
    for name in plan.problem.ctx.app.names:
        ws = by_service.get(name, [])
        if not ws:
            continue
        docs.append({
            "apiVersion": KARMADA_POLICY_API, "kind": "PropagationPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "resourceSelectors": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    {"apiVersion": "v1", "kind": "Service", "name": name},
                ],
                "placement": {
                    "clusterAffinity": {"clusterNames": [w.cluster for w in ws]},
                    "replicaScheduling": {
                        "replicaSchedulingType": "Divided",
                        "replicaDivisionPreference": "Weighted",
                        "weightPreference": {"staticWeightList": [
                            {"targetCluster": {"clusterNames": [w.cluster]}, "weight": w.replicas}
                            for w in ws]},
                    },
                },
            },
        })
    return yaml.safe_dump_all(docs, sort_keys=False)
