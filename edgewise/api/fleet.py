"""The fleet overview: one row per app, joining its SLO statuses and its PredictiveScalers.
Pure: sources are read by the caller; filtering and sorting are here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from controller.spec import APP_LABEL
from slo.status import SloStatus

ACK_PLAN = "edgewise.io/acknowledged-plan"          # name@sha256 (first 12 hex digits)
ACK_BY, ACK_AT = "edgewise.io/acknowledged-by", "edgewise.io/acknowledged-at"


@dataclass(frozen=True)
class ScalerView:
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
    conditions: tuple[dict[str, Any], ...] = ()
    targets: tuple[dict[str, Any], ...] = ()
    paused: bool = False
    acknowledged_plan: str | None = None  # annotation edgewise.io/acknowledged-plan


@dataclass(frozen=True)
class AppRow:
    app: str
    slos: tuple[SloStatus, ...]
    scalers: tuple[ScalerView, ...] = field(default=())

    def _worst(self, attr: str) -> float | None:
        values = [getattr(s, attr) for s in self.slos if getattr(s, attr) is not None]
        return min(values) if values else None

    @property
    def attainment_ratio(self) -> float | None:
        return self._worst("attainment_ratio")

    @property
    def budget_remaining_ratio(self) -> float | None:
        return self._worst("error_budget_remaining_ratio")

    @property
    def burn_rate_1h(self) -> float | None:
        values = [s.burn_rate_1h for s in self.slos if s.burn_rate_1h is not None]
        return max(values) if values else None


class SortKey(Enum):
    APP = "app"
    ATTAINMENT = "attainment"
    BUDGET = "budget"
    BURN = "burn"


def scaler_view(obj: dict[str, Any]) -> ScalerView:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    conds = tuple(status.get("conditions") or ())
    fallback = next((c for c in conds if c.get("type") == "Fallback"), None)
    last = status.get("lastDecision") or {}
    labels = meta.get("labels") or {}
    return ScalerView(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""),
        app=labels.get(APP_LABEL) or meta.get("name", ""),
        mode=str(spec.get("mode", "Active")), policy=status.get("policy"),
        desired_replicas=status.get("desiredReplicas"),
        current_replicas=status.get("currentReplicas"),
        fallback=bool(fallback and fallback.get("status") == "True"),
        fallback_reason=fallback.get("reason") if fallback and
        fallback.get("status") == "True" else None,
        last_reason=last.get("reason"), last_message=last.get("message"),
        conditions=conds, targets=tuple(status.get("targets") or ()),
        paused=bool(spec.get("paused", False)),
        acknowledged_plan=(meta.get("annotations") or {}).get(ACK_PLAN))


def app_rows(statuses: list[SloStatus], scalers: list[ScalerView]) -> list[AppRow]:
    apps = sorted({s.slo.app for s in statuses} | {s.app for s in scalers})
    return [AppRow(a, tuple(s for s in statuses if s.slo.app == a),
                   tuple(s for s in scalers if s.app == a)) for a in apps]


def select_rows(rows: list[AppRow], *, contains: str | None, mode: str | None,
                sort: SortKey, descending: bool) -> list[AppRow]:
    out = [r for r in rows if (contains is None or contains in r.app)
           and (mode is None or any(s.mode == mode for s in r.scalers))]

    def key(r: AppRow) -> tuple[bool, Any]:
        if sort is SortKey.APP:
            return (False, r.app)
        value = {SortKey.ATTAINMENT: r.attainment_ratio, SortKey.BUDGET: r.budget_remaining_ratio,
                 SortKey.BURN: r.burn_rate_1h}[sort]
        missing = value is None or math.isnan(value)
        return (missing != descending, 0.0 if missing else value)

    return sorted(out, key=key, reverse=descending)
