"""`edgewise replay`: a twin scenario played in compressed real time, as a live world.

Every tick the replay reads the replica count of each service's Deployment (so the controller
sees the consequences of its own actions), steps the twin (`envs/twin.py`, the one simulator) and
publishes per-service gauges for Prometheus to scrape. Tick k starts at wall time
`anchor + k * tick_seconds / speed`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import start_http_server

from controller import metric_names as names
from controller.kube import KubeCluster
from controller.spec import Target
from envs.scenario import Scenario
from envs.twin import Twin
from scaler.errors import ScalerError

log = logging.getLogger("evaluation.replay")


@dataclass(frozen=True)
class ReplayConfig:
    namespace: str
    speed: float
    anchor_epoch: float
    seed: int = 0
    max_ticks: int | None = None


class ReplayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r, s = self.registry, ["service"]
        self.rate = Gauge(names.SERVICE_RATE, "Offered load", s, registry=r)
        self.cpu = Gauge(names.SERVICE_CPU,
                         "CPU used by ready pods over their request", s, registry=r)
        self.p95 = Gauge(names.SERVICE_P95, "p95 latency", s, registry=r)
        self.ready = Gauge(names.SERVICE_READY, "Replicas serving", s, registry=r)
        self.desired = Gauge(names.SERVICE_DESIRED, "Replicas wanted (spec)", s,
                             registry=r)
        self.tick = Gauge(names.REPLAY_TICK, "Index of the last simulated tick", registry=r)
        self.sim_time = Gauge(names.REPLAY_SIM_TIME,
                              "Simulated time of the last tick (Unix seconds)", registry=r)


class Replay:
    def __init__(self, scenario: Scenario, cluster: KubeCluster | None, config: ReplayConfig
                 ) -> None:
        self.scenario, self.cluster, self.config = scenario, cluster, config
        _, run = scenario.demand(config.seed)
        self.twin = Twin(scenario.config(), run, scenario.start)
        self.metrics = ReplayMetrics()
        self.names = scenario.graph.names
        self._last = self.twin.config.min_replicas.copy()
        self.stop = threading.Event()

    def desired(self) -> np.ndarray:
        """Each service's Deployment replicas now (the last known count if unreachable)."""
        if self.cluster is None:
            return self._last
        out = self._last.copy()
        for i, name in enumerate(self.names):
            try:
                target = Target.model_validate({"name": name, "service": name})
                out[i] = self.cluster.workload(self.config.namespace, target).desired
            except ScalerError as e:
                log.debug("replica count of %s unavailable: %s", name, e)
        self._last = out
        return out

    def publish(self) -> None:
        obs = self.twin.observe()
        m = self.metrics
        for i, name in enumerate(self.names):
            m.rate.labels(name).set(float(obs.rate_rps[i]))
            m.cpu.labels(name).set(float(obs.cpu_utilization[i]))
            m.p95.labels(name).set(float(obs.p95_latency_ms[i]) / 1000.0)
            m.ready.labels(name).set(int(obs.ready[i]))
            m.desired.labels(name).set(int(obs.desired[i]))
        m.tick.set(obs.tick)
        m.sim_time.set(obs.now.timestamp())

    def run(self) -> int:
        """Play until the scenario (or max_ticks) ends; returns the ticks played."""
        tick_wall = self.scenario.tick_seconds / self.config.speed
        self.twin.reset(self.desired())
        self.publish()
        limit = min(self.twin.ticks, self.config.max_ticks or self.twin.ticks)
        while self.twin.t < limit and not self.stop.is_set():
            due = self.config.anchor_epoch + self.twin.t * tick_wall
            self.stop.wait(max(0.0, due - time.time()))
            self.twin.step(self.desired())
            self.publish()
        return self.twin.t

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.metrics.registry)
