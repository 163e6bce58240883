"""Randomized scenarios for training: a curriculum of events and graph parameters.

`random_scenario(base, spec, rng)` keeps `base`'s graph topology, SLO, prices and workload shape
and draws: the run's start (any day of an 8-week season, so time of day and week vary), the
demand scale, up to `max_events` events inside the run (timing, size, ramp speed, duration,
announced or not), and per-service graph parameters (capacity, start-up time) and per-call
fan-outs, each scaled by a factor drawn uniformly from its range. Pure: same rng, same scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from envs.graph import Service, ServiceGraph
from envs.scenario import Scenario
from envs.workload import Event

Range = tuple[float, float]


@dataclass(frozen=True)
class RandomizationSpec:
    """Ranges of the randomized quantities (uniform; durations in seconds)."""

    run_seconds: int = 86_400
    season_days: int = 56
    max_events: int = 2
    event_probability: float = 0.8
    announced_probability: float = 0.7
    multiplier: Range = (1.5, 9.0)
    ramp_seconds: Range = (300.0, 7_200.0)
    peak_seconds: Range = (1_800.0, 28_800.0)
    decay_seconds: Range = (300.0, 21_600.0)
    base_rps_scale: Range = (0.5, 2.0)
    noise_cv: Range = (0.02, 0.1)
    capacity_scale: Range = (0.7, 1.4)
    startup_scale: Range = (0.5, 1.5)
    fanout_scale: Range = (0.7, 1.3)

    def __post_init__(self) -> None:
        if self.run_seconds <= 0 or self.season_days < 1 or self.max_events < 0:
            raise ValueError("randomization: run_seconds, season_days must be > 0, max_events >= 0")
        for p in (self.event_probability, self.announced_probability):
            if not 0 <= p <= 1:
                raise ValueError("randomization: probabilities must be within [0, 1]")


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1]))


def random_graph(graph: ServiceGraph, spec: RandomizationSpec,
                 rng: np.random.Generator) -> ServiceGraph:
    def draw(s: Service) -> Service:
        scale = _u(rng, spec.capacity_scale)  # a faster replica spends less CPU per request,
        return replace(s, capacity_rps=s.capacity_rps * scale,  # so it saturates as before
                       cpu_millicores_per_rps=s.cpu_millicores_per_rps / scale,
                       startup_seconds=s.startup_seconds * _u(rng, spec.startup_scale))

    services = tuple(draw(s) for s in graph.services)
    calls = tuple(replace(c, fanout=c.fanout * _u(rng, spec.fanout_scale)) for c in graph.calls)
    return replace(graph, services=services, calls=calls)


def random_events(scenario: Scenario, spec: RandomizationSpec, rng: np.random.Generator,
                  *, announced: bool | None = None) -> tuple[Event, ...]:
    """Events inside the run; `announced` forces the flag (else drawn)."""
    events = []
    for i in range(spec.max_events):
        if rng.random() >= spec.event_probability / (1 + i):
            continue
        at = _u(rng, (-3_600.0, scenario.duration_seconds * 0.9))
        flag = bool(rng.random() < spec.announced_probability) if announced is None else announced
        events.append(Event(
            name=f"random-{i}", start=scenario.start + timedelta(seconds=round(at / 60) * 60),
            multiplier=_u(rng, spec.multiplier), ramp_seconds=_u(rng, spec.ramp_seconds),
            peak_seconds=_u(rng, spec.peak_seconds), decay_seconds=_u(rng, spec.decay_seconds),
            announced=flag,
        ))
    return tuple(events)


def random_scenario(base: Scenario, spec: RandomizationSpec, rng: np.random.Generator, *,
                    graph: bool = True, announced: bool | None = None) -> Scenario:
    """A new scenario drawn around `base` (see the module docstring)."""
    day = int(rng.integers(spec.season_days))
    run = replace(base, name=f"{base.name}-random", duration_seconds=spec.run_seconds,
                  start=base.start + timedelta(days=day), trace_rps=None)
    workload = replace(base.workload,
                       base_rps=base.workload.base_rps * _u(rng, spec.base_rps_scale),
                       noise_cv=_u(rng, spec.noise_cv))
    g = random_graph(base.graph, spec, rng) if graph else base.graph
    return replace(run, workload=workload, graph=g, events=random_events(run, spec, rng,
                                                                         announced=announced))
