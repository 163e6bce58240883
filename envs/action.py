"""What identifies `edgewise/Autoscale-v4` and how its action becomes replicas.

Shared by the gymnasium env (`envs/autoscale_v2.py`) and the learned-policy runtime
(`scaler/learned/`), which must run a policy without importing gymnasium.
"""

from __future__ import annotations

import numpy as np

from envs.entry_forecast import SURPRISE_LIMIT

ENV_ID = "edgewise/Autoscale-v4"
ENV_VERSION = 4


def off_forecast(surprise_growth: float) -> bool:
    """True while demand has moved more than 10% off the forecast's expectation over the last
    15 ticks, up (a ramp nobody announced) or down (a dip, which intermittent demand reverses
    at once)."""
    return abs(surprise_growth) > SURPRISE_LIMIT


def action_to_desired(base: np.ndarray, action: np.ndarray, surprise_growth: float = 0.0
                      ) -> np.ndarray:
    """Desired replicas from the base sizing and a log2-multiplier action in [-1, 1].

    While demand is off the forecast (`off_forecast`) the action only adds to the base: a pod
    trimmed there is missed when the ramp goes on or the dip rebounds, and it comes back only
    after its start-up time (docs/rl.md)."""
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    if off_forecast(surprise_growth):
        a = np.maximum(a, 0.0)
    desired: np.ndarray = np.rint(base * np.exp2(a)).astype(int)
    return desired
