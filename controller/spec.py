"""The PredictiveScaler custom resource, parsed once at the boundary into frozen models.

The apiserver already rejects specs that break the CRD's OpenAPI schema (`controller/crd.py`); this
module re-checks what a schema cannot express (targets name services of the graph, an event ends
after it starts) and turns the camelCase document into typed values. Every error names the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scaler.errors import InvalidSpecError, KeyFileError
from scaler.learned.signature import parse_public_key
from scaler.slo_floor import FloorKind

GROUP, VERSION, KIND, PLURAL = "edgewise.io", "v1alpha1", "PredictiveScaler", "predictivescalers"

DEFAULT_RATE_QUERY = (
    'sum(rate(http_requests_total{namespace="$namespace",service="$service"}[2m]))'
)
DEFAULT_LATENCY_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
    '{namespace="$namespace",service="$service"}[2m])))'
)
DEFAULT_CPU_QUERY = (
    'sum(rate(container_cpu_usage_seconds_total{namespace="$namespace",pod=~"$workload-.*"}[2m]))'
    ' / sum(kube_pod_container_resource_requests{namespace="$namespace",pod=~"$workload-.*",'
    'resource="cpu"})'
)

DEFAULT_HISTORY_SECONDS = 14 * 86_400  # two weekly seasons: what holt-winters needs
MIN_HISTORY_SECONDS, MAX_HISTORY_SECONDS = 3600, 90 * 86_400


class Mode(StrEnum):
    ACTIVE = "Active"
    SHADOW = "Shadow"
    OFF = "Off"


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")


class Target(_Model):
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    name: str = Field(min_length=1)
    service: str = Field(min_length=1)
    min_replicas: int = Field(1, alias="minReplicas", ge=0)
    max_replicas: int = Field(100, alias="maxReplicas", ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> Target:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) exceeds maxReplicas "
                             f"({self.max_replicas})")
        return self


class ConfigMapRef(_Model):
    name: str = Field(min_length=1)
    key: str = "graph.yaml"


class GraphSource(_Model):
    inline: dict[str, Any] | None = None
    config_map_ref: ConfigMapRef | None = Field(None, alias="configMapRef")

    @model_validator(mode="after")
    def _one(self) -> GraphSource:
        if (self.inline is None) == (self.config_map_ref is None):
            raise ValueError("give exactly one of inline or configMapRef")
        return self


class SloSpec(_Model):
    p95_latency_ms: float = Field(400.0, alias="p95LatencyMs", gt=0)
    max_error_ratio: float = Field(0.001, alias="maxErrorRatio", ge=0, le=1)


class ModelRef(_Model):
    path: str = Field(min_length=1)
    trusted_public_key: str | None = Field(None, alias="trustedPublicKey", min_length=1)

    @model_validator(mode="after")
    def _key(self) -> ModelRef:
        if self.trusted_public_key is not None:
            try:
                parse_public_key(self.trusted_public_key.encode(), "trustedPublicKey")
            except KeyFileError as e:
                raise ValueError(str(e)) from None
        return self


class PolicySpec(_Model):
    type: Literal["rl", "baseline"] = "baseline"
    baseline: str = "hpa"
    model: ModelRef | None = None
    target_utilization: float = Field(0.7, alias="targetUtilization", gt=0, le=1)

    @model_validator(mode="after")
    def _model(self) -> PolicySpec:
        if self.type == "rl" and self.model is None:
            raise ValueError("type rl needs model.path")
        return self


class BehaviorSpec(_Model):
    # The guardrails' floor: "slo" (the replicas the SLO needs at the observed rate) or "hpa"
    # (the HPA at targetUtilization), see scaler/slo_floor.py.
    floor: FloorKind = Field(FloorKind.SLO, alias="floor")
    max_step_up: float = Field(1.0, alias="maxStepUp", ge=0)
    max_step_up_pods: int = Field(4, alias="maxStepUpPods", ge=0)
    max_step_down: float = Field(0.5, alias="maxStepDown", ge=0, le=1)
    cooldown_seconds: float = Field(300.0, alias="cooldownSeconds", ge=0)


class EventSpec(_Model):
    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    expected_uplift: float = Field(alias="expectedUplift", gt=0)
    lead_seconds: float | None = Field(None, alias="leadSeconds", ge=0)

    @model_validator(mode="after")
    def _window(self) -> EventSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Queries(_Model):
    rate: str = DEFAULT_RATE_QUERY
    latency: str = DEFAULT_LATENCY_QUERY
    cpu: str = DEFAULT_CPU_QUERY


class MetricsSpec(_Model):
    prometheus_url: str = Field("http://prometheus.monitoring:9090", alias="prometheusUrl")
    direct_url: str | None = Field(None, alias="directUrl")
    staleness_seconds: float = Field(120.0, alias="stalenessSeconds", gt=0)
    history_seconds: float = Field(DEFAULT_HISTORY_SECONDS, alias="historySeconds",
                                   ge=MIN_HISTORY_SECONDS, le=MAX_HISTORY_SECONDS)
    queries: Queries = Field(default_factory=lambda: Queries.model_validate({}))


DEFAULT_PERIOD_SECONDS = 15  # the reconcile period (s) of a spec that names none


def period_seconds_of(obj: Mapping[str, Any]) -> float:
    """An object's reconcile period, before (or without) validating the rest of its spec."""
    raw: Any = (obj.get("spec") or {}).get("periodSeconds")
    try:
        period = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD_SECONDS
    return period if period > 0 and math.isfinite(period) else DEFAULT_PERIOD_SECONDS


class ScalerSpec(_Model):
    targets: tuple[Target, ...] = Field(min_length=1)
    graph: GraphSource
    slo: SloSpec = Field(default_factory=lambda: SloSpec.model_validate({}))
    policy: PolicySpec = Field(default_factory=lambda: PolicySpec.model_validate({}))
    behavior: BehaviorSpec = Field(default_factory=lambda: BehaviorSpec.model_validate({}))
    mode: Mode = Mode.ACTIVE
    paused: bool = False  # hold replicas: decide and apply nothing, keep the HPA floors
    period_seconds: float = Field(DEFAULT_PERIOD_SECONDS, alias="periodSeconds", gt=0)
    events: tuple[EventSpec, ...] = ()
    metrics: MetricsSpec = Field(default_factory=lambda: MetricsSpec.model_validate({}))

    @model_validator(mode="after")
    def _unique(self) -> ScalerSpec:
        for field in ("name", "service"):
            seen = [getattr(t, field) for t in self.targets]
            dup = next((v for v in seen if seen.count(v) > 1), None)
            if dup is not None:
                raise ValueError(f"targets: {field} {dup!r} appears twice")
        return self


class ScalerRef(_Model):
    namespace: str
    name: str
    uid: str = ""
    generation: int = 0
    app: str = ""  # the label edgewise.io/app (the dashboard's app), else the name


APP_LABEL = "edgewise.io/app"


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = "spec"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_spec(raw: Mapping[str, Any]) -> ScalerSpec:
    """`spec` of a PredictiveScaler; InvalidSpecError names the first bad field."""
    try:
        return ScalerSpec.model_validate(dict(raw))
    except ValidationError as e:
        err = e.errors()[0]
        raise InvalidSpecError(f"{_field_path(tuple(err['loc']))}: {err['msg']}") from e


def parse_ref(obj: Mapping[str, Any]) -> ScalerRef:
    meta = obj.get("metadata") or {}
    name = str(meta["name"])
    return ScalerRef(namespace=str(meta.get("namespace", "default")), name=name,
                     uid=str(meta.get("uid", "")), generation=int(meta.get("generation", 0)),
                     app=str((meta.get("labels") or {}).get(APP_LABEL) or name))


def check_against_graph(spec: ScalerSpec, names: tuple[str, ...]) -> None:
    """Every target maps to a service of the graph."""
    for i, t in enumerate(spec.targets):
        if t.service not in names:
            raise InvalidSpecError(f"spec.targets[{i}].service: {t.service!r} is not a service "
                                   f"of the graph (services: {', '.join(names)})")
