"""In-memory fakes of the controller's ports, for any test to import (as Karpenter ships fakes
beside its ports): `MemoryCluster` (the `Cluster` port: workloads, HPAs, status, Events),
`MemoryMetrics` (the `Metrics` port: current samples and a demand history), a decision `Sink` and
a settable `Clock`. Fakes only at protocol boundaries; the reconcile core under test is real.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from controller.actuation import Action, ActuationKind, HpaView
from controller.decision import Decision
from controller.errors import PrometheusUnavailableError
from controller.finalizer import Restore
from controller.history import Grid, Series, windows
from controller.observe import MetricKind, Sample, Samples, WorkloadState
from controller.spec import ScalerRef, ScalerSpec, Target
from envs.graph import ServiceGraph

T0 = datetime(2026, 11, 27, 10, 0, 0)


class MemoryCluster:
    def __init__(self, replicas: int, hpa: HpaView | None = None) -> None:
        self.replicas, self.hpa = replicas, hpa
        self.actions: list[Action] = []
        self.events: dict[str, tuple[str, str]] = {}
        self.status: dict[str, Any] = {}
        self.finalizers: list[str] = []

    @property
    def owner(self) -> str | None:  # the HPA's raised-by annotation
        return self.hpa.owner if self.hpa is not None else None

    def workload(self, namespace: str, target: Target) -> WorkloadState:
        return WorkloadState(self.replicas, self.replicas)

    def hpas(self, namespace: str) -> list[HpaView]:
        return [] if self.hpa is None else [self.hpa]

    def apply(self, namespace: str, action: Action) -> None:
        self.actions.append(action)
        if action.kind is ActuationKind.SCALE:
            self.replicas = action.replicas
        elif self.hpa is not None:
            original = self.hpa.original_min
            if action.record_original_min is not None:
                original = action.record_original_min
            self.hpa = replace(self.hpa, min_replicas=action.replicas, original_min=original,
                               owner=action.owner)

    def restore_hpa(self, namespace: str, restore: Restore) -> None:
        assert self.hpa is not None and restore.hpa == self.hpa.name
        self.hpa = replace(self.hpa, min_replicas=restore.min_replicas, original_min=None,
                           owner=None)

    def set_finalizers(self, ref: ScalerRef, finalizers: list[str],
                       resource_version: str) -> None:
        self.finalizers = list(finalizers)

    def emit(self, ref: ScalerRef, key: str, reason: str, message: str, warning: bool) -> None:
        self.events.setdefault(key, (reason, message))

    def write_status(self, ref: ScalerRef, status: dict[str, Any]) -> None:
        self.status = status

    def read_config_map(self, namespace: str, name: str, key: str) -> str:
        raise AssertionError("not used")


def daily(t: float) -> float:
    """A demand with a daily cycle between 10 and 50 rps."""
    return 30.0 + 20.0 * float(np.sin(2 * np.pi * t / 86_400))


class MemoryMetrics:
    """Current samples, and a demand history of `history_days` days ending at the clock."""

    def __init__(self, rate: float | None, cpu: float | None, clock: Any) -> None:
        self.rate, self.cpu, self.clock, self.down = rate, cpu, clock, False
        self.history_days = 0.0
        self.range_queries = 0

    def demand_history(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph,
                       grid: Grid) -> list[Series]:
        if self.down:
            raise PrometheusUnavailableError("Prometheus at http://x: connection refused")
        first = grid.end_epoch - self.history_days * 86_400
        out: list[Series] = []
        for w in windows(grid):
            self.range_queries += 1
            ts = range(w.start_epoch, w.end_epoch + 1, grid.step_seconds)
            assert len(ts) <= 11_000, "a range query over Prometheus' points limit"
            out.append([(float(t), daily(t)) for t in ts if t > first])
        return out

    def read(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph) -> Samples:
        if self.down:
            raise PrometheusUnavailableError("Prometheus at http://x: connection refused")
        now = self.clock()
        return {("web", MetricKind.RATE): None if self.rate is None else Sample(self.rate, now),
                ("web", MetricKind.CPU): None if self.cpu is None else Sample(self.cpu, now),
                ("web", MetricKind.LATENCY): Sample(0.1, now)}


class Sink:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.fallbacks: list[str | None] = []

    def decided(self, ref: ScalerRef, decision: Decision) -> None:
        self.decisions.append(decision)

    def fallback(self, ref: ScalerRef, reason: str | None) -> None:
        self.fallbacks.append(reason)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now
