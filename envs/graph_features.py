"""The graph-conditioned observation: one feature row per service, the app-wide features, and the
call graph, for a policy network shared by every service (issue 15, part 4).

`GraphFeatureEncoder` wraps the flat encoder (`envs.features.FeatureEncoder`: the same forecast,
base sizing and per-service measurements) and re-shapes its output so that nothing depends on
how many services the app has or what they are called:
- `services` (n, `SERVICE_FEATURES`): the flat encoder's per-service features (graph features
  rescaled: depth / 4, log2 visits per request / 4) and four of the service's own: log2 of its
  base sizing / 6, whether the base sits on min_replicas, its service time over the SLO's p95,
  and its CPU limit over request / 4 (0: no limit);
- `app` (`APP_FEATURES`,): the flat encoder's global features (SLO state, time, calendar,
  forecast level, trend and quantiles), log2 of the number of services / 6, and the entry
  rate's growth over `GROWTH_TICKS` (15) ticks beyond the forecast's expectation (log2; the
  5-tick trend cannot tell a surprise ramp's first minutes from noise, docs/rl.md);
- `callers` (n, n): `callers[i, j]` = 1 when service j calls service i.

`pack` lays one observation out as a fixed-size vector for training (padded to `MAX_SERVICES`
with a mask), `unpack` reverses it; the runtime (scaler/learned/graph_actor.py) uses the
unpadded arrays directly, so a trained network runs on an app of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.entry_forecast import GROWTH_TICKS, EntryForecast
from envs.features import GLOBAL, PER_SERVICE, FeatureContext, FeatureEncoder
from envs.graph import ServiceGraph
from envs.observation import Observation

MAX_SERVICES = 40  # padding for training batches only: the runtime takes any number
FEATURE_LIMIT = 8.0

EXTRA: tuple[tuple[str, str], ...] = (
    ("log2_base_over_6", "log2 of the base sizing (replicas) / 6"),
    ("base_at_min_replicas", "1 when the base sizing is the service's min_replicas"),
    ("service_time_over_slo", "mean service time / the SLO's p95"),
    ("cpu_limit_over_request_over_4", "CPU limit / request / 4 (0: no limit)"),
)
RESCALED = {"depth": ("depth_over_4", "calls from the entry service / 4"),
            "visits_per_request": ("log2_visits_over_4", "log2 of requests per entry request / 4")}
SERVICE_SCHEMA: tuple[tuple[str, str], ...] = (
    *(RESCALED.get(name, (name, unit)) for name, unit in PER_SERVICE), *EXTRA)
APP_SCHEMA: tuple[tuple[str, str], ...] = (
    *GLOBAL, ("log2_services_over_6", "log2 of the number of services / 6"),
    (f"log2_surprise_growth_{GROWTH_TICKS}",
     f"log2 of observed over expected entry rate, now over {GROWTH_TICKS} ticks ago"))
SERVICE_FEATURES = len(SERVICE_SCHEMA)
APP_FEATURES = len(APP_SCHEMA)
_DEPTH = [n for n, _ in PER_SERVICE].index("depth")
_VISITS = [n for n, _ in PER_SERVICE].index("visits_per_request")


def graph_observation_schema() -> list[dict[str, str]]:
    """Names and units, per service then app-wide: the same for every graph."""
    return ([{"name": f"service.{n}", "unit": u} for n, u in SERVICE_SCHEMA]
            + [{"name": f"app.{n}", "unit": u} for n, u in APP_SCHEMA])


def callers_matrix(graph: ServiceGraph) -> np.ndarray:
    """(n, n) float32: [i, j] = 1 when service j calls service i."""
    a = np.zeros((len(graph.services), len(graph.services)), dtype=np.float32)
    for c in graph.calls:
        a[graph.index(c.callee), graph.index(c.caller)] = 1.0
    return a


@dataclass(frozen=True)
class GraphFeatures:
    services: np.ndarray  # (n, SERVICE_FEATURES) float32
    app: np.ndarray  # (APP_FEATURES,) float32
    callers: np.ndarray  # (n, n) float32


class GraphFeatureEncoder:
    """Observation -> (GraphFeatures, base sizing); call once per tick, in time order."""

    def __init__(self, ctx: FeatureContext, flat: FeatureEncoder | None = None) -> None:
        self.flat = flat or FeatureEncoder(ctx)
        g = ctx.graph
        self._n = len(g.services)
        self._callers = callers_matrix(g)
        self._min = self.flat.config.min_replicas
        service_s = g.array("service_time_ms") / ctx.slo.p95_latency_ms
        limit = np.array([(s.cpu_limit_millicores or 0.0) / s.cpu_request_millicores / 4
                          for s in g.services])
        self._static = np.stack([service_s, limit], axis=1)
        self._size = np.log2(self._n) / 6

    @classmethod
    def around(cls, flat: FeatureEncoder) -> GraphFeatureEncoder:
        """A graph encoder over an existing flat encoder (sharing its forecast state)."""
        return cls(flat.ctx, flat)

    @property
    def forecast(self) -> EntryForecast:
        """The entry-rate forecast (the flat encoder's)."""
        return self.flat.forecast

    def encode(self, obs: Observation) -> tuple[GraphFeatures, np.ndarray]:
        flat, base = self.flat.encode(obs)
        n, k = self._n, len(PER_SERVICE)
        per = flat[: n * k].reshape(n, k).astype(float)
        per[:, _DEPTH] /= 4
        per[:, _VISITS] = np.log2(np.maximum(per[:, _VISITS], 1 / 64)) / 4
        own = np.stack([np.log2(np.maximum(base, 1)) / 6, (base <= self._min).astype(float)],
                       axis=1)
        services = np.concatenate([per, own, self._static], axis=1)
        growth = self.forecast.surprise_growth / np.log(2)
        app = np.concatenate([flat[n * k:], [self._size, growth]])
        return GraphFeatures(
            np.clip(services, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32),
            np.clip(app, -FEATURE_LIMIT, FEATURE_LIMIT).astype(np.float32), self._callers), base


PACKED_SIZE = MAX_SERVICES * SERVICE_FEATURES + APP_FEATURES + MAX_SERVICES + MAX_SERVICES ** 2


def pack(f: GraphFeatures) -> np.ndarray:
    """[services padded to MAX_SERVICES | app | mask | callers padded] as one float32 vector."""
    n = len(f.services)
    if n > MAX_SERVICES:
        raise ValueError(f"training packs at most {MAX_SERVICES} services, got {n}")
    services = np.zeros((MAX_SERVICES, SERVICE_FEATURES), dtype=np.float32)
    services[:n] = f.services
    mask = np.zeros(MAX_SERVICES, dtype=np.float32)
    mask[:n] = 1.0
    callers = np.zeros((MAX_SERVICES, MAX_SERVICES), dtype=np.float32)
    callers[:n, :n] = f.callers
    return np.concatenate([services.ravel(), f.app, mask, callers.ravel()])


def unpack(x: np.ndarray) -> GraphFeatures:
    """The unpadded features of one packed vector (the inverse of `pack`)."""
    a = MAX_SERVICES * SERVICE_FEATURES
    b = a + APP_FEATURES
    n = int(x[b: b + MAX_SERVICES].sum())
    services = x[:a].reshape(MAX_SERVICES, SERVICE_FEATURES)[:n]
    callers = x[b + MAX_SERVICES:].reshape(MAX_SERVICES, MAX_SERVICES)[:n, :n]
    return GraphFeatures(services, x[a:b], callers)
