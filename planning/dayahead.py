"""The day-ahead forecast over a run: what the planner's model (`calendar_naive_forecast`,
seasonal naive plus the announced events' prior, P50 and P90) forecast at the start of each
day of the run for that day's hours, from the demand observed until then. The dashboard draws it
beside the actual demand; `edgewise/twin_export.py` exports it as a gauge per tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from envs.scenario import Scenario
from planning.plan import observed
from scaler.errors import ScalerError
from scaler.forecast_features import hourly
from scaler.quantile_forecast import calendar_naive_forecast

DAY_HOURS = 24


@dataclass(frozen=True)
class TickForecast:
    """Per tick of the run: the forecast P50 and P90 of entry demand (NaN: no forecast, too
    little history when that day started)."""

    p50_rps: np.ndarray
    p90_rps: np.ndarray


def day_ahead(scenario: Scenario, seed: int) -> TickForecast:
    ticks, tick = scenario.ticks, scenario.tick_seconds
    p50, p90 = np.full(ticks, np.nan), np.full(ticks, np.nan)
    per_hour = 3600 // tick
    for day_start in range(0, ticks, DAY_HOURS * per_hour):
        until = scenario.start + timedelta(seconds=day_start * tick)
        rps, first = observed(scenario, seed, until)
        seen = hourly(rps, first, tick)
        try:
            fc = calendar_naive_forecast(seen, scenario.calendar, DAY_HOURS + 1)
        except ScalerError:
            continue
        lag = int((until - fc.start).total_seconds()) // tick  # hour alignment of the origin
        for h in range(DAY_HOURS + 1):
            a = max(h * per_hour - lag, 0) + day_start
            b = min((h + 1) * per_hour - lag + day_start, ticks, day_start + DAY_HOURS * per_hour)
            if a < b:
                p50[a:b], p90[a:b] = fc.p50[h], fc.p90[h]
    return TickForecast(p50, p90)
