"""Request and response bodies of /api/v1 (pydantic), and their builders from the domain."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from edgewise.api.fleet import AppRow, ScalerView
from slo.status import SloStatus

Mode = Literal["Active", "Shadow", "Off"]


class ErrorDetail(BaseModel):
    field: str | None
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class SloOut(BaseModel):
    name: str
    app: str
    objective: Literal["latency", "availability"]
    target_ratio: float
    window_days: int
    threshold_ms: float | None
    attainment_ratio: float | None
    error_budget_remaining_ratio: float | None
    burn_rate_1h: float | None
    alert: Literal["ok", "ticket", "page", "unknown"]
    error_ratios: dict[str, float | None]


class ScalerOut(BaseModel):
    namespace: str
    name: str
    app: str
    mode: str
    policy: str | None
    desired_replicas: int | None
    current_replicas: int | None
    fallback: bool
    fallback_reason: str | None
    last_reason: str | None
    last_message: str | None
    conditions: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    paused: bool = Field(description="spec.paused: the controller holds replicas")
    acknowledged_plan: str | None = Field(description="the event plan an operator "
                                          "acknowledged for this scaler (name@sha256 prefix)")


class AppOut(BaseModel):
    app: str
    attainment_ratio: float | None
    error_budget_remaining_ratio: float | None
    burn_rate_1h: float | None
    slos: list[SloOut]
    scalers: list[ScalerOut]


class Overview(BaseModel):
    source: str
    stale_since: str | None = Field(description="when the data source last answered, if it "
                                    "does not now")
    apps: list[AppOut]


class SeriesOut(BaseModel):
    name: str
    points: list[tuple[float, float]]


class SeriesSet(BaseModel):
    app: str
    kind: str
    start: float
    end: float
    step_seconds: float
    series: list[SeriesOut]


class ModeChange(BaseModel):
    mode: Mode


class PauseChange(BaseModel):
    paused: bool


class AuditOut(BaseModel):
    id: int
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    at: str


class FeedbackIn(BaseModel):
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    scaler: str = Field(pattern=r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")
    decision: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:.+_-]+$",
                          description="the decision's time (lastDecision.time) or id")
    verdict: Literal["good", "bad"]
    note: str = Field(default="", max_length=2000)
    decision_record: dict[str, Any] = Field(default_factory=dict,
                                            description="the decision as shown (for retraining)")


class FeedbackOut(BaseModel):
    id: int
    namespace: str
    scaler: str
    decision: str
    verdict: str
    note: str
    decision_record: dict[str, Any]
    author: str
    created_at: str


class RunOut(BaseModel):
    name: str
    scenario: str
    created_at: str
    results: dict[str, Any]


class RunTimeline(BaseModel):
    t: list[float]  # Unix seconds: each bucket's first tick
    replicas: list[float]
    p95_ms: list[float]


class WhoAmI(BaseModel):
    name: str
    role: Literal["viewer", "operator", "admin"]
    source: str


def slo_out(s: SloStatus) -> SloOut:
    t = s.slo.threshold_seconds
    return SloOut(name=s.slo.name, app=s.slo.app, objective=s.slo.objective.value,
                  target_ratio=s.slo.target_ratio, window_days=s.slo.window_days,
                  threshold_ms=None if t is None else round(t * 1000.0, 6),
                  attainment_ratio=s.attainment_ratio,
                  error_budget_remaining_ratio=s.error_budget_remaining_ratio,
                  burn_rate_1h=s.burn_rate_1h, alert=s.alert.value, error_ratios=s.error_ratios)


def scaler_out(v: ScalerView) -> ScalerOut:
    return ScalerOut(**{**v.__dict__, "conditions": list(v.conditions),
                        "targets": list(v.targets)})


def app_out(r: AppRow) -> AppOut:
    return AppOut(app=r.app, attainment_ratio=r.attainment_ratio,
                  error_budget_remaining_ratio=r.budget_remaining_ratio,
                  burn_rate_1h=r.burn_rate_1h, slos=[slo_out(s) for s in r.slos],
                  scalers=[scaler_out(s) for s in r.scalers])


class PlanSummary(BaseModel):
    name: str
    app: str
    event: str
    event_start: str
    window_start: str
    hours: int
    sha256: str
    acknowledged_by: str | None
    acknowledged_at: str | None
    acknowledged_scaler: str | None


class PlanHourOut(BaseModel):
    start: str
    p50_rps: float
    p90_rps: float
    planned_rps: float
    replicas: dict[str, int]
    actual_mean_rps: float | None
    actual_peak_rps: float | None
    ready_min: dict[str, int] = Field(description="fewest ready replicas seen in the hour")
    short: bool = Field(description="demand peaked above the plan or a service had fewer "
                        "ready replicas than planned")
    short_services: list[str]


class PlanComparison(BaseModel):
    plan: PlanSummary
    source: str
    hours: list[PlanHourOut]
    short_hours: int


class PlanAck(BaseModel):
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    name: str = Field(pattern=r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$",
                      description="the PredictiveScaler of the plan's app to annotate")


class PlacementOut(BaseModel):
    name: str
    created_at: str
    plan: dict[str, Any] = Field(description="plan.json of `edgewise place`")


class SlicePeerOut(BaseModel):
    slice: str
    site: str
    interface: str
    peer: str
    endpoint: str
    handshake_age_seconds: float | None
    rx_bytes: int
    tx_bytes: int
    state: Literal["healthy", "stale", "no-handshake", "missing", "down"]


class SlicesOut(BaseModel):
    peers: list[SlicePeerOut]
    problems: list[str] = Field(description="status files that could not be read")
    file_age_seconds: dict[str, float] = Field(description="slice/site -> seconds since "
                                               "its status was written")
