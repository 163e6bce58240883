"""One period's decision: what was decided, why, and how it reads in status, Events and logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.actuation import ActuationKind
from controller.conditions import Condition, merge_conditions, parse_conditions, rfc3339
from controller.spec import Mode


class DecisionReason(StrEnum):
    EVENT_PRESCALE = "EventPrescale"
    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    STEADY = "NoChange"
    FALLBACK = "FallbackReactive"
    GUARDRAIL = "GuardrailClipped"
    NO_METRICS = "HoldNoMetrics"


@dataclass(frozen=True)
class TargetDecision:
    workload: str
    service: str
    current: int
    ready: int
    desired: int
    reason: str
    actuation: ActuationKind

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.workload, "service": self.service, "currentReplicas": self.current,
                "desiredReplicas": self.desired, "readyReplicas": self.ready,
                "reason": self.reason, "actuation": self.actuation.value}


@dataclass(frozen=True)
class DayAhead:
    """Today's day-ahead forecast of entry demand now (`controller/dayahead.py`)."""

    service: str  # the entry service
    p50_rps: float
    p90_rps: float


@dataclass(frozen=True)
class Forecast:
    entry_rate_rps: float
    expected_peak_rps: float
    horizon_seconds: float
    event: str = ""
    day_ahead: DayAhead | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entryRateRps": round(self.entry_rate_rps, 3),
            "expectedPeakRps": round(self.expected_peak_rps, 3),
            "horizonSeconds": self.horizon_seconds, "event": self.event or "none"}
        if self.day_ahead is not None:
            out["dayAheadP50Rps"] = round(self.day_ahead.p50_rps, 3)
            out["dayAheadP90Rps"] = round(self.day_ahead.p90_rps, 3)
        return out


@dataclass(frozen=True)
class Decision:
    time: datetime
    period: int
    mode: Mode
    policy: str
    reason: DecisionReason
    message: str
    targets: tuple[TargetDecision, ...]
    forecast: Forecast | None
    acted: bool
    fallback_reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return any(t.desired != t.current for t in self.targets)

    def log_line(self, namespace: str, name: str) -> str:
        return json.dumps({
            "time": rfc3339(self.time), "namespace": namespace, "scaler": name,
            "period": self.period, "mode": self.mode.value, "policy": self.policy,
            "reason": self.reason.value, "message": self.message, "acted": self.acted,
            "fallback": self.fallback_reason,
            "targets": [t.to_dict() for t in self.targets],
            "forecast": self.forecast.to_dict() if self.forecast else None,
        }, sort_keys=True)


def decision_reason(fallback: bool, event: str | None, clipped: bool, current: int,
                    desired: int) -> DecisionReason:
    """The headline reason, most specific first."""
    if fallback:
        return DecisionReason.FALLBACK
    if event is not None and desired > current:
        return DecisionReason.EVENT_PRESCALE
    if clipped and desired != current:
        return DecisionReason.GUARDRAIL
    if desired > current:
        return DecisionReason.SCALE_UP
    if desired < current:
        return DecisionReason.SCALE_DOWN
    return DecisionReason.STEADY


def summary(targets: tuple[TargetDecision, ...]) -> str:
    parts = [f"{t.workload} {t.current}->{t.desired} ({t.reason})" for t in targets]
    return ", ".join(parts)


def status_document(decision: Decision | None, conditions: list[Condition],
                    old_status: dict[str, Any], generation: int, decisions: int, now: datetime,
                    mode: Mode) -> dict[str, Any]:
    """The full `status` to write: observed state, the last decision, merged conditions."""
    old = parse_conditions(old_status.get("conditions"))
    status: dict[str, Any] = {
        "observedGeneration": generation, "mode": mode.value, "decisions": decisions,
        "conditions": merge_conditions(old, conditions, now),
    }
    if decision is None:
        for key in ("targets", "lastDecision", "forecast", "policy", "desiredReplicas",
                    "currentReplicas"):
            if key in old_status:
                status[key] = old_status[key]
        return status
    status.update({
        "policy": decision.policy,
        "targets": [t.to_dict() for t in decision.targets],
        "desiredReplicas": sum(t.desired for t in decision.targets),
        "currentReplicas": sum(t.current for t in decision.targets),
        "lastDecision": {"time": rfc3339(decision.time), "reason": decision.reason.value,
                         "message": decision.message, "acted": decision.acted},
    })
    if decision.forecast is not None:
        status["forecast"] = decision.forecast.to_dict()
    return status
