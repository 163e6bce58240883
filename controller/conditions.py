"""Kubernetes-style conditions, merged so lastTransitionTime moves only when status changes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConditionType(StrEnum):
    READY = "Ready"
    ABLE_TO_SCALE = "AbleToScale"          # HPA meaning: the target's scale can be read/written
    SCALING_ACTIVE = "ScalingActive"       # HPA meaning: metrics are valid, decisions are made
    SCALING_LIMITED = "ScalingLimited"     # HPA meaning: bounds or step limits clipped the wish
    FALLBACK = "Fallback"                  # the reactive rule decides instead of the policy


class Reason(StrEnum):
    RECONCILED = "Reconciled"
    INVALID_SPEC = "InvalidSpec"
    MODE_OFF = "ModeOff"
    PAUSED = "Paused"
    SHADOW = "ShadowMode"
    SUCCEEDED_GET_SCALE = "SucceededGetScale"
    FAILED_GET_SCALE = "FailedGetScale"
    FAILED_UPDATE_SCALE = "FailedUpdateScale"
    VALID_METRICS = "ValidMetricsFound"
    NO_METRICS = "MetricsUnavailable"
    POLICY = "PolicyActive"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    SERIES_MISSING = "SeriesMissing"
    SERIES_STALE = "SeriesStale"
    SERIES_NAN = "SeriesNaN"
    MODEL_LOAD_FAILED = "ModelLoadFailed"
    INSUFFICIENT_HISTORY = "InsufficientHistory"
    HISTORY_UNAVAILABLE = "HistoryUnavailable"
    POLICY_FAILED = "PolicyFailed"
    DESIRED_WITHIN_RANGE = "DesiredWithinRange"
    CLIPPED = "GuardrailClipped"


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: bool | None  # None: Unknown
    reason: Reason
    message: str = ""
    last_transition: datetime | None = None
    observed_generation: int = 0

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else ("True" if self.status else "False")

    def to_dict(self) -> dict[str, Any]:
        assert self.last_transition is not None
        out: dict[str, Any] = {"type": self.type.value, "status": self.status_text,
                               "reason": self.reason.value,
                               "lastTransitionTime": rfc3339(self.last_transition),
                               "observedGeneration": self.observed_generation}
        if self.message:  # the Python client sends "" as null, which the schema refuses
            out["message"] = self.message
        return out


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_conditions(raw: list[dict[str, Any]] | None) -> dict[str, tuple[str, str]]:
    """type -> (status, lastTransitionTime) of the conditions stored in an object's status."""
    out: dict[str, tuple[str, str]] = {}
    for c in raw or []:
        if "type" in c:
            out[str(c["type"])] = (str(c.get("status", "")), str(c.get("lastTransitionTime", "")))
    return out


def merge_conditions(old: dict[str, tuple[str, str]], new: list[Condition], now: datetime
                     ) -> list[dict[str, Any]]:
    """New conditions as dicts; lastTransitionTime is kept from `old` when status is unchanged."""
    out = []
    for c in new:
        prev = old.get(c.type.value)
        if prev is not None and prev[0] == c.status_text and prev[1]:
            d = replace(c, last_transition=now).to_dict()
            d["lastTransitionTime"] = prev[1]
        else:
            d = replace(c, last_transition=now).to_dict()
        out.append(d)
    return out
