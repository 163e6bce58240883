"""The guardrails' floor: what the SLO needs at the observed rate, or the HPA's ask.

`FloorKind.SLO` (the default) holds every service at the fewest replicas that meet the latency
SLO at the request rates observed now, by the twin's own sizing (`envs.capacity.slo_floor`: the
M/M/c model of each service at its per-replica capacity from the graph, the end-to-end p95 of the
call paths against the SLO). The controller computes it from the same live metrics the twin
fills: each service's request rate, the graph and the SLO. `FloorKind.HPA` keeps the floor of
before: what the HPA at its CPU target would ask for now.

Why the SLO floor is safe although it may be below the HPA's: the floor's job is that a bad model
can only add capacity, never take the service below what it needs. What it needs at the current
rate is what the SLO floor computes; the HPA at 70% of a CPU request instead keeps pods at 35% of
what they can do when the limit is twice the request (Online Boutique's), so as a floor it taxes
a good model with the HPA's headroom. Neither floor foresees a surge: both size for the rate now,
and pre-scaling for what is coming is the model's (and EventFloor's) job.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from envs.capacity import grid_level, implied_entry_rps, slo_floor
from envs.observation import Observation
from envs.twin_config import TwinConfig
from scaler.policy import Policy, PolicyContext


class FloorKind(StrEnum):
    SLO = "slo"  # the replicas the SLO needs at the observed rate (the default)
    HPA = "hpa"  # what the HPA at its CPU target asks for now


class SloFloor:
    """A policy that asks for the SLO floor; one sizing per 0.5% step of the implied entry rate,
    remembered (the sizing is a pure function of it)."""

    name = "slo-floor"

    def __init__(self) -> None:
        self._config: TwinConfig | None = None
        self._sized: dict[float, np.ndarray] = {}

    def reset(self, ctx: PolicyContext) -> None:
        self._config = TwinConfig(ctx.graph, ctx.slo, ctx.tick_seconds)
        self._sized = {}

    def decide(self, obs: Observation) -> np.ndarray:
        if self._config is None:
            raise RuntimeError("SloFloor.decide before reset")
        rates = np.asarray(obs.rate_rps, dtype=float)
        level = float(grid_level(np.array([implied_entry_rps(self._config, rates)]))[0])
        if level not in self._sized:  # the sizing depends on the grid level only
            self._sized[level] = slo_floor(self._config, rates)
        return self._sized[level].copy()


def floor_policy(kind: FloorKind, hpa: Policy) -> Policy:
    """The floor policy of `kind`; `hpa` is the HPA to use for `FloorKind.HPA`."""
    return SloFloor() if kind is FloorKind.SLO else hpa
