"""The day-ahead forecast over a twin run (`scaler/dayahead.py`): at the start of each day of the
run, the planner's model forecasts that day's hours from the demand observed until then. The
dashboard draws it beside the actual demand; `edgewise/twin_export.py` exports it as a gauge per
tick, as the controller does for a live scaler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from envs.scenario import Scenario
from planning.plan import observed
from scaler.dayahead import DAY, issue


@dataclass(frozen=True)
class TickForecast:
    """Per tick of the run: the forecast P50 and P90 of entry demand (NaN: no forecast, too
    little history when that day started)."""

    p50_rps: np.ndarray
    p90_rps: np.ndarray


def day_ahead(scenario: Scenario, seed: int) -> TickForecast:
    ticks, tick = scenario.ticks, scenario.tick_seconds
    p50, p90 = np.full(ticks, np.nan), np.full(ticks, np.nan)
    per_day = int(DAY.total_seconds()) // tick
    for day_start in range(0, ticks, per_day):
        day = scenario.start + timedelta(seconds=day_start * tick)
        rps, first = observed(scenario, seed, day)
        fc = issue(rps, first, tick, scenario.calendar, day)
        if fc is None:
            continue
        k = np.arange(day_start, min(day_start + per_day, ticks))
        p50[k], p90[k] = fc.over((k - day_start) * float(tick))
    return TickForecast(p50, p90)
