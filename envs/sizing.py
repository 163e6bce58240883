"""Replicas the SLO needs at an entry rate, as a lazily grown lookup table (for the encoder).

`envs.capacity.required_replicas` answers by bisection over the twin's latency model: 2-3 ms for
one rate, but ~0.2 ms per rate when asked for many at once. `SizingTable` asks for a whole grid
of rates (the same 0.5% grid, rounded up, so its answers are exactly `required_replicas`'s) once,
and again only when a rate falls above the grid; a lookup is then a few microseconds.
"""

from __future__ import annotations

import numpy as np

from envs.capacity import GRID, required_replicas
from envs.twin_config import TwinConfig

_LOG_GRID = float(np.log(GRID))


class SizingTable:
    def __init__(self, config: TwinConfig, low_rps: float, high_rps: float) -> None:
        self.config = config
        self._lo = int(np.floor(np.log(max(low_rps, 1e-3)) / _LOG_GRID))
        self._table = np.zeros((0, len(config.graph.services)), dtype=int)
        self._grow(max(high_rps, low_rps * 2))

    def _grow(self, high_rps: float) -> None:
        hi = int(np.ceil(np.log(high_rps) / _LOG_GRID)) + 1
        start = self._lo + len(self._table)
        if hi <= start:
            return
        levels = GRID ** np.arange(start, hi, dtype=float)
        self._table = np.concatenate([self._table, required_replicas(self.config, levels)])

    def need(self, rates_rps: np.ndarray) -> np.ndarray:
        """(len(rates), services) replicas the SLO needs at each entry rate."""
        r = np.maximum(np.asarray(rates_rps, dtype=float), 1e-3)
        idx = np.ceil(np.log(r) / _LOG_GRID - 1e-9).astype(int) - self._lo
        if idx.max() >= len(self._table):
            self._grow(float(r.max()) * 1.5)
        rows: np.ndarray = self._table[np.clip(idx, 0, len(self._table) - 1)]
        return rows
