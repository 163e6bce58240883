"""The state of one SLO now, from its error ratios over the burn windows and its window."""

from __future__ import annotations

import math
from dataclasses import dataclass

from slo.budget import AlertState, alert_state, budget
from slo.model import Slo

WINDOW = "window"  # the key of the SLO window's error ratio


@dataclass(frozen=True)
class SloStatus:
    slo: Slo
    error_ratios: dict[str, float | None]  # burn windows ("5m" ... "3d") and WINDOW
    attainment_ratio: float | None
    error_budget_remaining_ratio: float | None
    burn_rate_1h: float | None
    alert: AlertState


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else x


def slo_status(slo: Slo, error_ratios: dict[str, float | None]) -> SloStatus:
    ratios = {k: _finite(v) for k, v in error_ratios.items()}
    window = ratios.get(WINDOW)
    hour = ratios.get("1h")
    b = budget(window, slo.target_ratio) if window is not None else None
    return SloStatus(
        slo=slo, error_ratios=ratios,
        attainment_ratio=b.attainment_ratio if b else None,
        error_budget_remaining_ratio=b.budget_remaining_ratio if b else None,
        burn_rate_1h=budget(hour, slo.target_ratio).burn_rate if hour is not None else None,
        alert=alert_state(ratios, slo.target_ratio))
