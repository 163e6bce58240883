"""The PredictiveScaler CustomResourceDefinition: OpenAPI schema, status subresource, columns.

The schema makes the apiserver reject bad specs with a message naming the field (a wrong enum,
a negative bound, a missing target). Defaults live here too, so `kubectl get -o yaml` shows what
the controller will use. Rendered by `edgewise manifests` into deploy/crd.yaml.
"""

from __future__ import annotations

from typing import Any

from controller.spec import (
    DEFAULT_CPU_QUERY,
    DEFAULT_HISTORY_SECONDS,
    DEFAULT_LATENCY_QUERY,
    DEFAULT_PERIOD_SECONDS,
    DEFAULT_RATE_QUERY,
    GROUP,
    KIND,
    MAX_HISTORY_SECONDS,
    MIN_HISTORY_SECONDS,
    PLURAL,
    VERSION,
)

Schema = dict[str, Any]


def _obj(props: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = required
    return out


def _str(desc: str, **extra: Any) -> Schema:
    return {"type": "string", "description": desc, **extra}


def _int(desc: str, minimum: int, **extra: Any) -> Schema:
    return {"type": "integer", "format": "int32", "minimum": minimum, "description": desc, **extra}


def _num(desc: str, minimum: float, **extra: Any) -> Schema:
    return {"type": "number", "minimum": minimum, "description": desc, **extra}


_TARGET = _obj({
    "kind": _str("Workload kind", enum=["Deployment", "StatefulSet"], default="Deployment"),
    "name": _str("Workload name in the scaler's namespace", minLength=1),
    "service": _str("Service of the graph this workload runs", minLength=1),
    "minReplicas": _int("Lower bound for this target", 0, default=1),
    "maxReplicas": _int("Upper bound for this target", 1, default=100),
}, ["name", "service"])

_GRAPH = _obj({
    "inline": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
               "description": "The service graph (envs/graph.py format)"},
    "configMapRef": _obj({"name": _str("ConfigMap name", minLength=1),
                          "key": _str("Key holding the graph YAML", default="graph.yaml")},
                         ["name"]),
}, oneOf=[{"required": ["inline"]}, {"required": ["configMapRef"]}],
    description="The service graph, inline or from a ConfigMap (exactly one)")

_POLICY = _obj({
    "type": _str("rl (a trained model) or baseline", enum=["rl", "baseline"], default="baseline"),
    "baseline": _str("Baseline policy when type is baseline",
                     enum=["hpa", "holt-winters", "seasonal-naive"], default="hpa"),
    "model": _obj({
        "path": _str("Export directory of `edgewise train` (manifest.json, actor.npz, "
                     "obs_norm.npz), or `default`", minLength=1),
        "trustedPublicKey": _str("PEM Ed25519 public key: load the model only if this key "
                                 "signed its manifest (with --trusted-model-key on the "
                                 "controller, it must also be one of those)", minLength=1),
    }, ["path"]),
    "targetUtilization": _num("CPU utilisation the policy aims for", 0.05, maximum=1,
                              default=0.7),
}, anyOf=[{"properties": {"type": {"enum": ["baseline"]}}}, {"required": ["model"]}])

_BEHAVIOR = _obj({
    "floor": _str("The guardrails' floor: slo (the replicas the latency SLO needs at the observed "
                  "request rates, by the twin's sizing) or hpa (the HPA at targetUtilization)",
                  enum=["slo", "hpa"], default="slo"),
    "maxStepUp": _num("Largest scale-up per period, as a fraction of current", 0, default=1.0),
    "maxStepUpPods": _int("Scale-up per period allowed in pods, whatever the fraction", 0,
                          default=4),
    "maxStepDown": _num("Largest scale-down per period, as a fraction", 0, maximum=1,
                        default=0.5),
    "cooldownSeconds": _num("No scale-down this long after a scale-up", 0, default=300),
})

_EVENT = _obj({
    "name": _str("Event name", minLength=1),
    "start": _str("Start (RFC 3339)", format="date-time"),
    "end": _str("End (RFC 3339)", format="date-time"),
    "expectedUplift": _num("Expected demand at the event over demand before it (2 = double)",
                           0, exclusiveMinimum=True),
    "leadSeconds": _num("Scale up this long before start (default: start-up time + 2 periods)",
                        0),
}, ["name", "start", "end", "expectedUplift"])

_METRICS = _obj({
    "prometheusUrl": _str("Prometheus base URL", pattern="^https?://",
                          default="http://prometheus.monitoring:9090"),
    "directUrl": _str("Pod metrics endpoint scraped without Prometheus, the reactive "
                      "fallback's source", pattern="^https?://"),
    "stalenessSeconds": _num("A sample older than this is stale", 1, default=120),
    "historySeconds": _num("Entry demand loaded from Prometheus (range queries of the rate "
                           "query) for policies that forecast: holt-winters needs 2 weeks, "
                           "seasonal-naive 1", MIN_HISTORY_SECONDS, maximum=MAX_HISTORY_SECONDS,
                           default=DEFAULT_HISTORY_SECONDS),
    "queries": _obj({
        "rate": _str("PromQL: requests/s of $service", default=DEFAULT_RATE_QUERY),
        "latency": _str("PromQL: p95 latency (seconds) of $service", default=DEFAULT_LATENCY_QUERY),
        "cpu": _str("PromQL: CPU used / requested of $workload", default=DEFAULT_CPU_QUERY),
    }, default={}),
}, default={})

SPEC_SCHEMA = _obj({
    "targets": {"type": "array", "minItems": 1, "items": _TARGET,
                "description": "Deployments/StatefulSets mapped to service-graph names"},
    "graph": _GRAPH,
    "slo": _obj({"p95LatencyMs": _num("p95 latency objective", 1, default=400),
                 "maxErrorRatio": _num("Error ratio objective", 0, maximum=1, default=0.001)},
                default={}),
    "policy": _POLICY,
    "behavior": _obj(_BEHAVIOR["properties"], default={}),
    "mode": _str("Active acts; Shadow decides and records only; Off does nothing",
                 enum=["Active", "Shadow", "Off"], default="Active"),
    "paused": {"type": "boolean", "default": False,
               "description": "Hold replicas where they are: nothing is decided or applied "
               "until it is false again; unlike Off, raised HPA floors stay"},
    "periodSeconds": _num("Reconcile period", 1, default=DEFAULT_PERIOD_SECONDS),
    "events": {"type": "array", "items": _EVENT, "description": "Announced demand events"},
    "metrics": _METRICS,
}, ["targets", "graph"])

_CONDITION = _obj({
    "type": {"type": "string"}, "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
    "reason": {"type": "string"}, "message": {"type": "string"},
    "lastTransitionTime": {"type": "string", "format": "date-time"},
    "observedGeneration": {"type": "integer", "format": "int64"},
}, ["type", "status", "lastTransitionTime"])

STATUS_SCHEMA = _obj({
    "observedGeneration": {"type": "integer", "format": "int64"},
    "mode": {"type": "string"},
    "policy": {"type": "string"},
    "desiredReplicas": {"type": "integer"},
    "currentReplicas": {"type": "integer"},
    "decisions": {"type": "integer", "format": "int64"},
    "targets": {"type": "array", "items": _obj({
        "name": {"type": "string"}, "service": {"type": "string"},
        "currentReplicas": {"type": "integer"}, "desiredReplicas": {"type": "integer"},
        "readyReplicas": {"type": "integer"}, "reason": {"type": "string"},
        "actuation": {"type": "string"}})},
    "lastDecision": _obj({"time": {"type": "string", "format": "date-time"},
                          "reason": {"type": "string"}, "message": {"type": "string"},
                          "acted": {"type": "boolean"}}),
    "forecast": _obj({"entryRateRps": {"type": "number"},
                      "expectedPeakRps": {"type": "number"},
                      "horizonSeconds": {"type": "number"},
                      "event": {"type": "string"},
                      "dayAheadP50Rps": {"type": "number"},
                      "dayAheadP90Rps": {"type": "number"}}),
    "conditions": {"type": "array", "items": _CONDITION,
                   "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
})


def _cond_column(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{kind}")].status'}


PRINTER_COLUMNS = [
    {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
    {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused", "priority": 1},
    {"name": "Policy", "type": "string", "jsonPath": ".status.policy"},
    {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredReplicas"},
    {"name": "Current", "type": "integer", "jsonPath": ".status.currentReplicas"},
    _cond_column("Ready", "Ready"),
    _cond_column("Fallback", "Fallback"),
    {"name": "Reason", "type": "string", "jsonPath": ".status.lastDecision.reason",
     "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def crd_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": KIND, "listKind": f"{KIND}List", "plural": PLURAL,
                      "singular": "predictivescaler", "shortNames": ["psc"],
                      "categories": ["edgewise"]},
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": _obj(
                    {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                     "metadata": {"type": "object"}, "spec": SPEC_SCHEMA,
                     "status": STATUS_SCHEMA}, ["spec"])},
                "subresources": {"status": {}},
                "additionalPrinterColumns": PRINTER_COLUMNS,
            }],
        },
    }
