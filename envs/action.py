"""What identifies `edgewise/Autoscale-v3` and how its action becomes replicas.

Shared by the gymnasium env (`envs/autoscale_v2.py`) and the learned-policy runtime
(`scaler/learned/`), which must run a policy without importing gymnasium.
"""

from __future__ import annotations

import numpy as np

ENV_ID = "edgewise/Autoscale-v3"
ENV_VERSION = 3


def action_to_desired(base: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Desired replicas from the base sizing and a log2-multiplier action in [-1, 1]."""
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    desired: np.ndarray = np.rint(base * np.exp2(a)).astype(int)
    return desired
