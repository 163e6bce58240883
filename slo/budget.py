"""Error budget and burn rate math, and the multiwindow multi-burn-rate alert decision.

With target T over a window W, the error budget is the share B = 1 - T of requests that may be
bad. For an observed error ratio e (bad / all):
- attainment = 1 - e
- error budget remaining = 1 - e / B (1: untouched, 0: spent, negative: overspent)
- burn rate = e / B (1: the budget lasts exactly the window; 14.4 over 1 h spends 2% of a
  30-day budget in that hour).

Alerts (Google SRE workbook, "Alerting on SLOs", method 6): each pair fires when both its long
and its short window burn faster than its factor; the short window makes the alert reset soon
after the burn stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True)
class BurnWindow:
    long: str
    short: str
    factor: float
    severity: Severity


BURN_WINDOWS = (
    BurnWindow("1h", "5m", 14.4, Severity.PAGE),
    BurnWindow("6h", "30m", 6.0, Severity.PAGE),
    BurnWindow("1d", "2h", 3.0, Severity.TICKET),
    BurnWindow("3d", "6h", 1.0, Severity.TICKET),
)
RATE_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


class AlertState(Enum):
    OK = "ok"
    TICKET = "ticket"
    PAGE = "page"
    UNKNOWN = "unknown"  # a window without data


@dataclass(frozen=True)
class Budget:
    attainment_ratio: float
    error_ratio: float
    budget_remaining_ratio: float
    burn_rate: float


def budget(error_ratio: float, target_ratio: float) -> Budget:
    allowed = 1.0 - target_ratio
    if not 0.0 < allowed < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target_ratio}")
    return Budget(attainment_ratio=1.0 - error_ratio, error_ratio=error_ratio,
                  budget_remaining_ratio=1.0 - error_ratio / allowed,
                  burn_rate=error_ratio / allowed)


def alert_state(error_ratios: dict[str, float | None], target_ratio: float) -> AlertState:
    """The most severe firing pair; UNKNOWN when no pair can be evaluated."""
    allowed = 1.0 - target_ratio
    fired: set[Severity] = set()
    evaluated = False
    for w in BURN_WINDOWS:
        long, short = error_ratios.get(w.long), error_ratios.get(w.short)
        if long is None or short is None or math.isnan(long) or math.isnan(short):
            continue
        evaluated = True
        if long > w.factor * allowed and short > w.factor * allowed:
            fired.add(w.severity)
    if Severity.PAGE in fired:
        return AlertState.PAGE
    if Severity.TICKET in fired:
        return AlertState.TICKET
    return AlertState.OK if evaluated else AlertState.UNKNOWN


def error_ratio(bad: float, total: float) -> float:
    """bad / total; NaN without traffic (no requests: the SLI is undefined, not perfect)."""
    return bad / total if total > 0 else math.nan
