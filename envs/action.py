"""What identifies `edgewise/Autoscale-v4` and how its action becomes replicas.

Shared by the gymnasium env (`envs/autoscale_v2.py`) and the learned-policy runtime
(`scaler/learned/`), which must run a policy without importing gymnasium.
"""

from __future__ import annotations

import numpy as np

ENV_ID = "edgewise/Autoscale-v4"
ENV_VERSION = 4


# log growth of the entry rate beyond the forecast's expectation over `GROWTH_TICKS` ticks
# (`EntryForecast.surprise_growth`) above which the action may not trim below the base
RAMP_GROWTH = 0.1


def action_to_desired(base: np.ndarray, action: np.ndarray, surprise_growth: float = 0.0
                      ) -> np.ndarray:
    """Desired replicas from the base sizing and a log2-multiplier action in [-1, 1].

    While demand grows faster than the forecast expected (`surprise_growth` > `RAMP_GROWTH`:
    more than 10% beyond it over the last 15 ticks) the action only adds to the base: a
    surge's ramp is where a trimmed pod is missed, and it comes back only after its start-up
    time (docs/rl.md)."""
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    if surprise_growth > RAMP_GROWTH:
        a = np.maximum(a, 0.0)
    desired: np.ndarray = np.rint(base * np.exp2(a)).astype(int)
    return desired
