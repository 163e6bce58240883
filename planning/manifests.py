"""Ready-to-apply YAML for a plan: KEDA ScaledObjects with cron triggers, HPA minReplicas patches.

- KEDA (keda.sh/v1alpha1 ScaledObject), one per service: a `cron` trigger per block above the
  service's minimum (start = block start less its lead, end = block end, desiredReplicas), and a
  `cpu` trigger at the target utilisation so the HPA KEDA manages still reacts above the floor.
  Cron expressions name a date (minute hour day month *): they recur yearly; delete the object
  after the event.
- HPA (autoscaling/v2), for clusters without KEDA: one merge patch of `spec.minReplicas` per
  block, annotated with when to apply it (`edgewise.io/apply-at`, the block's start less its
  lead); the last patch of each service returns it to its minimum.
JSON Schemas of the fields used ship in planning/schema/ (tests validate against them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import yaml

from envs.graph import ServiceGraph
from planning.plan import Block, Plan

CPU_TARGET_PERCENT = 70


def _cron(t: datetime) -> str:
    return f"{t.minute} {t.hour} {t.day} {t.month} *"


def _starts(b: Block) -> datetime:
    return b.start - timedelta(minutes=b.lead_minutes)


def scaled_objects(plan: Plan, graph: ServiceGraph, *, namespace: str,
                   timezone: str) -> list[dict[str, Any]]:
    docs = []
    for name in plan.services:
        svc = graph.service(name)
        triggers: list[dict[str, Any]] = [
            {"type": "cron", "metadata": {"timezone": timezone, "start": _cron(_starts(b)),
                                          "end": _cron(b.end),
                                          "desiredReplicas": str(b.replicas)}}
            for b in plan.blocks if b.service == name and b.replicas > svc.min_replicas
        ]
        triggers.append({"type": "cpu", "metricType": "Utilization",
                         "metadata": {"value": str(CPU_TARGET_PERCENT)}})
        docs.append({
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": f"{name}-event-plan", "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "edgewise",
                                    "edgewise.io/event": plan.window.event.name}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicaCount": svc.min_replicas, "maxReplicaCount": svc.max_replicas,
                     "pollingInterval": 30, "triggers": triggers},
        })
    return docs


def hpa_patches(plan: Plan, graph: ServiceGraph, *, namespace: str) -> list[dict[str, Any]]:
    docs = []
    for b in plan.blocks:
        svc = graph.service(b.service)
        docs.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": b.service, "namespace": namespace,
                         "annotations": {"edgewise.io/apply-at": _starts(b).isoformat(),
                                         "edgewise.io/until": b.end.isoformat(),
                                         "edgewise.io/event": plan.window.event.name}},
            "spec": {"minReplicas": max(b.replicas, svc.min_replicas)},
        })
    for name in plan.services:  # back to the minimum after the window
        svc = graph.service(name)
        end = plan.window.start + timedelta(hours=plan.window.hours)
        docs.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"edgewise.io/apply-at": end.isoformat(),
                                         "edgewise.io/event": plan.window.event.name}},
            "spec": {"minReplicas": svc.min_replicas},
        })
    return docs


def dump_all(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)
