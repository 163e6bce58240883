"""Metric samples and workload states -> the `Observation` every policy sees.

In the twin, `Twin.observe` fills an `envs.observation.Observation`; in-cluster this module fills
the very same type from Prometheus samples and the workloads' scale subresources. Samples that
are missing, NaN or older than the staleness bound are refused with the reason, so the caller can
fall back to the reactive rule instead of feeding a policy garbage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from envs.graph import ServiceGraph
from envs.observation import LatencySample, Observation


class MetricKind(StrEnum):
    RATE = "rate"
    LATENCY = "latency"
    CPU = "cpu"


class SampleProblem(StrEnum):
    MISSING = "SeriesMissing"
    STALE = "SeriesStale"
    NAN = "SeriesNaN"


@dataclass(frozen=True)
class Sample:
    """One instant value of one series; `time` is when it was sampled."""

    value: float
    time: datetime


@dataclass(frozen=True)
class WorkloadState:
    """A workload's scale subresource: spec replicas and the pods that are ready."""

    desired: int
    ready: int


@dataclass(frozen=True)
class BadSeries:
    problem: SampleProblem
    service: str
    kind: MetricKind

    @property
    def message(self) -> str:
        what = {SampleProblem.MISSING: "no sample", SampleProblem.STALE: "a stale sample",
                SampleProblem.NAN: "NaN"}[self.problem]
        return f"{self.kind.value} of service {self.service!r}: {what}"


Samples = dict[tuple[str, MetricKind], Sample | None]


def check_sample(sample: Sample | None, now: datetime, staleness_seconds: float
                 ) -> SampleProblem | None:
    if sample is None:
        return SampleProblem.MISSING
    if math.isnan(sample.value) or math.isinf(sample.value):
        return SampleProblem.NAN
    if (now - sample.time).total_seconds() > staleness_seconds:
        return SampleProblem.STALE
    return None


def first_bad(samples: Samples, services: tuple[str, ...], kinds: tuple[MetricKind, ...],
              now: datetime, staleness_seconds: float) -> BadSeries | None:
    for service in services:
        for kind in kinds:
            problem = check_sample(samples.get((service, kind)), now, staleness_seconds)
            if problem is not None:
                return BadSeries(problem, service, kind)
    return None


def _values(samples: Samples, names: tuple[str, ...], kind: MetricKind, default: float
            ) -> np.ndarray:
    out = []
    for n in names:
        s = samples.get((n, kind))
        out.append(default if s is None or not math.isfinite(s.value) else s.value)
    return np.array(out, dtype=float)


def build_observation(graph: ServiceGraph, samples: Samples, workloads: dict[str, WorkloadState],
                      now: datetime, tick: int) -> Observation:
    """The observation of one period. Services without a target keep their graph minimum;
    a missing latency reads as 0 (the caller has already refused bad series it relies on)."""
    names = graph.names
    desired = np.array([workloads[n].desired if n in workloads else graph.service(n).min_replicas
                        for n in names], dtype=int)
    ready = np.array([workloads[n].ready if n in workloads else desired[i]
                      for i, n in enumerate(names)], dtype=int)
    rate = _values(samples, names, MetricKind.RATE, 0.0)
    cpu = _values(samples, names, MetricKind.CPU, 0.0)
    p95_ms = _values(samples, names, MetricKind.LATENCY, 0.0) * 1000.0
    entry = graph.index(graph.entry)

    def latency() -> LatencySample:
        return LatencySample(p95_ms, float(p95_ms[entry]), 0.0)

    return Observation(
        tick=tick, now=now, rate_rps=rate, cpu_utilization=cpu, ready=ready,
        pending=np.maximum(desired - ready, 0), desired=desired,
        entry_rate_rps=float(rate[entry]), latency_source=latency,
    )
