"""One sim-to-real experiment on a deployed retail app (bench/shoplab.py): calibrate, play a
flash sale with a replica schedule, replay both in the twin, compare. Shared by
`python -m bench.sim_to_real` and the node e2e (a shorter plan).

1. Capacity: a constant Poisson load on one replica each; each service's mean work time, service
   time and CPU per request from its replicas' /metrics; the twin's service rate fitted to it
   (evaluation/sim_to_real.py). The sale's peak is `peak_node_share` of the node's cores over
   the measured CPU per request. A second load at `calibration_mid_share` of the peak, one
   replica each (as the sale's ramp runs until its scale-up is ready).
2. Start-up: each service in turn scaled 1 -> 2; the time from the write to the new ready
   endpoint. Then two loads on the sale's peak replicas (the most the replica schedule gives
   each service), at `calibration_upper_share` of the peak and at the peak. From the four
   loads: the contention curve, each service's wait scale (per replica count) and the overhead
   at each load (evaluation/contention.py).
3. The flash sale (open loop, latency from the intended send time), the replica schedule applied
   at its times, ready endpoints and CPU recorded.
4. The twin replays the same arrival schedule and the same replica writes; per-minute
   end-to-end p95 (and each service's) against the measured ones.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.shoplab import PodTotals, Recorder, Shop
from evaluation import contention
from evaluation import sim_to_real as s2r
from retail import arrivals
from retail.balancer import LeastOutstanding
from retail.endpoints import ApiAccess, EndpointWatcher
from retail.loadgen import LoadPlan, LoadResult, play

NODE_CORES = 2.0


@dataclass(frozen=True)
class Plan:
    base_rps: float = 8.0
    # peak load: the app's CPU demand as this share of the node's cores. The node's other
    # work at the peak (the load generator, Prometheus, the control plane, the sampler) adds
    # about 0.35 cores here, so 0.65 puts the whole node near 80% busy (measured, reported
    # as `peak_node_busy_share`); 0.8 put it at 91-98%.
    peak_node_share: float = 0.65
    max_peak_rps: float = 80.0
    calibration_rps: float = 15.0
    calibration_seconds: float = 45.0
    settle_seconds: float = 20.0  # first, a load at calibration_rps that is not measured
    calibration_base_seconds: float = 40.0  # a load at base_rps, one replica each (0: none)
    calibration_mid_share: float = 0.4  # the second calibration load: this share of the peak
    calibration_mid_seconds: float = 45.0
    calibration_upper_share: float = 0.65  # the third, on the peak replicas
    calibration_upper_seconds: float = 45.0
    calibration_high_share: float = 1.0  # the fourth, on the peak replicas: this share of the peak
    calibration_high_seconds: float = 90.0  # near saturation: a longer load for a steadier mean
    # before, ramp, peak, decay, after: 11 one-minute windows, four at the peak
    phases_seconds: tuple[float, float, float, float, float] = (120, 60, 240, 60, 180)
    # (seconds from the start, service, replicas)
    replica_schedule: tuple[tuple[float, str, int], ...] = (
        (150, "checkout", 2), (180, "payment", 2), (480, "checkout", 1), (480, "payment", 1))
    window_seconds: int = 60
    seed: int = 0


# A couple of minutes of it: the node e2e and `python -m bench.sim_to_real --short`.
SHORT = Plan(base_rps=6.0, peak_node_share=0.5, calibration_rps=10.0, calibration_seconds=20.0,
             settle_seconds=0.0, calibration_base_seconds=0.0,
             calibration_mid_seconds=15.0, calibration_upper_seconds=15.0,
             calibration_high_seconds=20.0,
             phases_seconds=(20, 15, 30, 15, 10), window_seconds=30,
             replica_schedule=((30, "checkout", 2), (75, "checkout", 1)))


def peak_replicas(plan: Plan, names: tuple[str, ...]) -> dict[str, int]:
    """The most replicas the sale's schedule gives each service (1 if it never scales)."""
    return {n: max([1, *(r for _, s, r in plan.replica_schedule if s == n)]) for n in names}


@dataclass
class Calibration:
    # by name, in the order measured: low (first), base, mid on one replica each; upper and
    # high on the sale's peak replicas
    loads: dict[str, contention.CalibrationLoad]
    peak_rps: float
    cpu_seconds_per_request: float  # summed over the services

    @property
    def measured(self) -> tuple[s2r.ServiceMeasurement, ...]:
        """The low load's services (start-up included): the twin's graph."""
        return self.loads["low"].services


def _delta(before: PodTotals, after: PodTotals) -> PodTotals:
    return PodTotals(*(getattr(after, f) - getattr(before, f) for f in
                       ("work_sum", "work_count", "service_sum", "request_sum",
                        "request_count",
                        "cpu_seconds")))


def measure_startup(shop: Shop) -> dict[str, float]:
    """Seconds from the scale-up write (1 -> 2) to the second ready endpoint, per service, one
    service at a time (as the sale scales them); the services stay at 2."""
    done: dict[str, float] = {}
    for s in shop.services:
        t0 = shop.scale(s.name, 2)
        deadline = t0 + 180
        while len(shop.ready_endpoints(s.name)) < 2:
            if time.time() > deadline:
                raise TimeoutError(f"no second ready {s.name} endpoint within 180 s")
            time.sleep(0.1)
        done[s.name] = time.time() - t0
    return done


def _scale_to(shop: Shop, replicas: dict[str, int]) -> None:
    """Every service at its replicas, ready, and the scaled-down pods gone (a calibration load
    sums the /metrics of the pods there are)."""
    for s in shop.services:
        shop.scale(s.name, replicas[s.name])
    for s in shop.services:
        n = replicas[s.name]
        deadline = time.time() + 120
        while (len(shop.ready_endpoints(s.name)) != n or shop.pod_count(s.name) > n) \
                and time.time() < deadline:
            time.sleep(0.2)


def _measure(shop: Shop, front: LeastOutstanding, rate_rps: float, seconds: float,
             replicas: dict[str, int], startup: dict[str, float], rng: np.random.Generator
             ) -> contention.CalibrationLoad:
    """A constant Poisson load: each service's measurement and the end-to-end latency."""
    warm = arrivals.arrival_times(arrivals.constant(rate_rps, 5), arrivals.Process.POISSON, rng)
    play(LoadPlan(warm), front)
    before = {s.name: shop.totals(s.name) for s in shop.services}
    times = arrivals.arrival_times(arrivals.constant(rate_rps, seconds),
                                   arrivals.Process.POISSON, rng)
    result = play(LoadPlan(times), front)
    deltas = {s.name: _delta(before[s.name], shop.totals(s.name)) for s in shop.services}
    measured = tuple(s2r.ServiceMeasurement(
        name=s.name, calls=s.calls, rate_rps=d.work_count / seconds,
        replicas=replicas[s.name], concurrency=1,
        work_mean_seconds=d.work_sum / max(d.work_count, 1),
        service_mean_seconds=d.service_sum / max(d.work_count, 1),
        cpu_seconds_per_request=d.cpu_seconds / max(d.work_count, 1),
        startup_seconds=startup.get(s.name, 0.0),
        cpu_request_millicores=s.cpu_request_millicores)
        for s in shop.services for d in [deltas[s.name]])
    return contention.CalibrationLoad(measured, result.latency_mean_seconds,
                                      result.latency.total().quantile(0.95))


def calibrate(shop: Shop, front: LeastOutstanding, plan: Plan) -> Calibration:
    """Low and mid loads on one replica each, start-up (1 -> 2), then the upper and high loads
    on the sale's peak replicas. The sale's sampler runs throughout (its reads of the endpoints load
    the apiserver): the node's other work is what it will be during the sale."""
    recorder = Recorder(shop).start()
    try:
        return _calibrate(shop, front, plan)
    finally:
        recorder.stop()


def _calibrate(shop: Shop, front: LeastOutstanding, plan: Plan) -> Calibration:
    rng = np.random.default_rng(plan.seed + 1000)
    names = tuple(s.name for s in shop.services)
    one = dict.fromkeys(names, 1)
    if plan.settle_seconds > 0:  # the node, Prometheus and the new pods settle
        play(LoadPlan(arrivals.arrival_times(arrivals.constant(plan.calibration_rps,
                                                               plan.settle_seconds),
                                             arrivals.Process.POISSON, rng)), front)
    loads = {"low": _measure(shop, front, plan.calibration_rps, plan.calibration_seconds, one,
                             {}, rng)}
    cpu = sum(m.cpu_seconds_per_request for m in loads["low"].services)
    peak = min(plan.max_peak_rps, plan.peak_node_share * NODE_CORES / cpu)
    # the sale's base rate: its minutes interpolated, not extrapolated below the low load
    if plan.calibration_base_seconds > 0:
        loads["base"] = _measure(shop, front, plan.base_rps, plan.calibration_base_seconds, one,
                                 {}, rng)
    loads["mid"] = _measure(shop, front, plan.calibration_mid_share * peak,
                            plan.calibration_mid_seconds, one, {}, rng)
    startup = measure_startup(shop)
    at_peak = peak_replicas(plan, names)
    _scale_to(shop, at_peak)
    loads["upper"] = _measure(shop, front, plan.calibration_upper_share * peak,
                              plan.calibration_upper_seconds, at_peak, startup, rng)
    loads["high"] = _measure(shop, front, plan.calibration_high_share * peak,
                             plan.calibration_high_seconds, at_peak, startup, rng)
    _scale_to(shop, one)
    with_startup = {name: dataclasses.replace(load, services=tuple(
        dataclasses.replace(m, startup_seconds=startup[m.name]) for m in load.services))
        for name, load in loads.items()}
    return Calibration(with_startup, peak, cpu)


def _apply_schedule(shop: Shop, plan: Plan, t0: float, log: list[tuple[float, str, int]],
                    stop: threading.Event) -> None:
    for at, service, replicas in sorted(plan.replica_schedule):
        if stop.wait(max(t0 + at - time.time(), 0)):
            return
        log.append((shop.scale(service, replicas) - t0, service, replicas))


def flash_sale(shop: Shop, front: LeastOutstanding, plan: Plan, peak_rps: float
               ) -> tuple[arrivals.RateSchedule, LoadResult, list[tuple[float, str, int]],
                          Recorder]:
    schedule = arrivals.flash_sale(plan.base_rps, peak_rps, before_seconds=plan.phases_seconds[0],
                                   ramp_seconds=plan.phases_seconds[1],
                                   peak_seconds=plan.phases_seconds[2],
                                   decay_seconds=plan.phases_seconds[3],
                                   after_seconds=plan.phases_seconds[4])
    times = arrivals.arrival_times(schedule, arrivals.Process.POISSON,
                                   np.random.default_rng(plan.seed))
    recorder = Recorder(shop).start()
    lead = 1.0
    t0 = time.time() + lead
    log: list[tuple[float, str, int]] = []
    stop = threading.Event()
    actions = threading.Thread(target=_apply_schedule, args=(shop, plan, t0, log, stop),
                               daemon=True)
    actions.start()
    try:
        result = play(LoadPlan(times), front, window_seconds=plan.window_seconds,
                      lead_seconds=lead)
    finally:
        stop.set()
        actions.join(5)
        recorder.stop()
    result.wall_start = t0
    return schedule, result, log, recorder


def front_balancer(shop: Shop, api: ApiAccess, entry: str) -> tuple[LeastOutstanding,
                                                                    EndpointWatcher]:
    balancer = LeastOutstanding(random.Random(0))
    watcher = EndpointWatcher(api, shop.namespace, entry, balancer, every_seconds=0.5)
    watcher.refresh()
    return balancer, watcher.start()


def _desired(names: tuple[str, ...], log: list[tuple[float, str, int]], ticks: int
             ) -> np.ndarray:
    desired = np.ones((ticks, len(names)), dtype=int)
    for j, name in enumerate(names):
        writes = sorted((t, r) for t, s, r in log if s == name)
        if writes:
            desired[:, j] = s2r.step_series(np.array([t for t, _ in writes]),
                                            np.array([r for _, r in writes]), ticks, 1.0, 1)
    return desired


def compare(shop: Shop, plan: Plan, cal: Calibration, schedule: arrivals.RateSchedule,
            result: LoadResult, log: list[tuple[float, str, int]], recorder: Recorder
            ) -> dict[str, Any]:
    entry_name = shop.services[0].name
    low = cal.loads["low"]
    graph = s2r.graph_from(cal.measured, entry=entry_name)
    overhead = s2r.overhead_ms(s2r.twin_config(graph, 0.0), cal.measured, low.e2e_mean_seconds)
    config = s2r.twin_config(graph, overhead)
    ticks = int(schedule.duration_seconds)
    entry = schedule.mean_rates(1.0)[:ticks]
    desired = _desired(graph.names, log, ticks)
    initial = np.ones(len(graph.names), dtype=int)
    rep = s2r.replay(config, entry, desired, initial)
    w = plan.window_seconds
    uncontended = rep.window_p95_seconds(w)
    visits = dict(zip(graph.names, graph.visit_ratios(), strict=True))
    services = [load.services for load in cal.loads.values()]
    curve = contention.fit_contention(services, visits, entry_name)
    scale = contention.fit_wait_scale(services)

    def twin_with(wait_scale: contention.WaitScale | None
                  ) -> tuple[np.ndarray, contention.OverheadCurve]:
        spread = contention.fit_overhead_curve(cal.measured, curve, entry_name,
                                               tuple(cal.loads.values()), wait_scale)
        return contention.replay_contended(cal.measured, curve, entry_name, spread, entry,
                                           desired, initial, w, wait_scale), spread

    twin, spread = twin_with(scale)
    q = result.latency.quantiles(0.95)
    measured = np.array([q.get(k, np.nan) for k in range(len(twin))])
    out = _figures(plan, cal, config, schedule, result, recorder, twin, measured,
                   _ready_delays(graph.names, log, recorder, rep, result.wall_start))
    out["uncontended"] = _errors(uncontended, measured)
    out["without_wait_scale"] = _errors(twin_with(None)[0], measured)
    out["overhead_model"] = {
        name: {"demand_cores": round(d, 3), "mean_ms": round(o.mean_seconds * 1000, 2),
               "sd_ms": round(math.sqrt(o.var_seconds2) * 1000, 2),
               "calibration_e2e_mean_ms": round(load.e2e_mean_seconds * 1000, 1),
               "calibration_e2e_p95_ms": round(load.e2e_p95_seconds * 1000, 1)}
        for (name, load), (d, o) in zip(cal.loads.items(), spread.points, strict=True)}
    out["raw"] = _raw(cal, log, recorder, result)
    out["contention"] = {"node_cores_for_app": round(curve.cores, 3),
                         "saturated": {name: _saturated(load.services)
                                       for name, load in cal.loads.items()},
                         "idle_service_ms": {k: round(v * 1000, 2)
                                             for k, v in curve.base_seconds.items()},
                         "wait_scale": {n: {str(k): round(v, 3) for k, v in by.items()}
                                        for n, by in scale.by_replicas.items()},
                         "waits_ms": {name: _waits(load.services)
                                      for name, load in cal.loads.items()},
                         "demand_cores_per_minute": [
                             round(contention.demand_cores(cal.measured, float(r), visits), 3)
                             for r in schedule.mean_rates(w)]}
    return out


def _errors(twin: np.ndarray, measured: np.ndarray) -> dict[str, Any]:
    e = s2r.relative_errors(twin, measured)
    return {"p95_error_median": float(np.median(e)) if e.size else float("nan"),
            "p95_error_p90": float(np.quantile(e, 0.9)) if e.size else float("nan"),
            "twin_p95_ms": [round(float(x) * 1000, 1) for x in twin]}


def _waits(ms: tuple[s2r.ServiceMeasurement, ...]) -> dict[str, Any]:
    """Per service at one load: the measured mean wait and the M/M/c one (ms)."""
    out: dict[str, Any] = {}
    for m in ms:
        t = contention.wait_terms(m)
        out[m.name] = None if t is None else {"measured": round(t[0] * 1000, 2),
                                              "mmc": round(t[1] * 1000, 2)}
    return out


def _ready_delays(names: tuple[str, ...], log: list[tuple[float, str, int]],
                  recorder: Recorder, rep: s2r.Replay, t0: float) -> list[dict[str, Any]]:
    out = []
    for at, service, replicas in log:
        samples = [(t - t0, n) for t, n in recorder.ready.get(service, []) if t - t0 >= at]
        hit = next((t for t, n in samples if n >= replicas), None)
        prev = next((r for a, s, r in reversed(log) if s == service and a < at), 1)
        if hit is None or replicas <= prev:
            continue
        j = names.index(service)
        ready_ticks = np.flatnonzero(rep.trajectory.ready[:, j] >= replicas)
        twin_at = float(ready_ticks[ready_ticks >= int(at)][0]) if ready_ticks.size else np.nan
        out.append({"service": service, "at_seconds": round(at, 2),
                    "measured_seconds": round(hit - at, 2),
                    "twin_seconds": round(twin_at - at, 2)})
    return out


def _figures(plan: Plan, cal: Calibration, config: Any, schedule: arrivals.RateSchedule,
             result: LoadResult, recorder: Recorder, twin: np.ndarray, measured: np.ndarray,
             delays: list[dict[str, Any]]) -> dict[str, Any]:
    w = plan.window_seconds
    errors = s2r.relative_errors(twin, measured)
    rates = schedule.mean_rates(w)
    counts = {k: h.count for k, h in result.latency.histograms.items()}
    cpu = recorder.cpu
    minutes = []
    for k in range(len(twin)):
        inside = [c for c in cpu if result.wall_start + k * w <= c[0] < result.wall_start
                  + (k + 1) * w]
        minutes.append({
            "minute": k, "offered_rps": round(float(rates[k]), 2),
            "answered_rps": round(counts.get(k, 0) / w, 2),
            "measured_p95_ms": round(float(measured[k]) * 1000, 1),
            "twin_p95_ms": round(float(twin[k]) * 1000, 1),
            "machine_busy_share": round(float(np.mean([c[1] for c in inside])), 3)
            if inside else None,
            "pods_cpu_cores": round(float(np.mean([c[2] for c in inside])), 3)
            if inside else None,
            "load1": round(float(np.mean([c[3] for c in inside])), 2) if inside else None})
    delay_err = [abs(d["measured_seconds"] - d["twin_seconds"]) for d in delays]
    at_peak = [m["machine_busy_share"] for m in minutes
               if m["offered_rps"] >= 0.95 * cal.peak_rps and m["machine_busy_share"] is not None]
    g = config.graph
    return {
        "p95_error_median": float(np.median(errors)) if errors.size else float("nan"),
        "p95_error_p90": float(np.quantile(errors, 0.9)) if errors.size else float("nan"),
        "ready_delay_error_seconds": float(np.median(delay_err)) if delay_err else float("nan"),
        "rps_max": round(float(max(counts.values(), default=0)) / w, 2),
        "peak_rps_offered": round(cal.peak_rps, 2),
        "peak_node_busy_share": round(float(np.mean(at_peak)), 3) if at_peak else None,
        "sent": result.sent, "failed": result.failed,
        "send_lateness_p99_ms": round(result.send_lateness.quantile(0.99) * 1000, 1),
        "minutes": minutes, "ready_delays": delays,
        "graph": {s.name: {"capacity_rps": round(s.capacity_rps, 2),
                           "startup_seconds": round(s.startup_seconds, 2),
                           "cpu_ms_per_request": round(s.cpu_millicores_per_rps, 2)}
                  for s in g.services},
        "overhead_ms": round(config.entry_rtt_ms, 2),
        "calibration": {name: {"e2e_mean_ms": round(load.e2e_mean_seconds * 1000, 2),
                               "e2e_p95_ms": round(load.e2e_p95_seconds * 1000, 2),
                               "services": _services(load.services)}
                        for name, load in cal.loads.items()},
    }


def _raw(cal: Calibration, log: list[tuple[float, str, int]], recorder: Recorder,
         result: LoadResult) -> dict[str, Any]:
    """What the comparison was computed from, so a twin change can be scored against this run
    again: the calibration, the replica writes, the samples (seconds from the sale's start)
    and each window's measured quantiles."""
    t0 = result.wall_start
    return {
        "calibration": {"loads": {name: dataclasses.asdict(load)
                                  for name, load in cal.loads.items()},
                        "peak_rps": cal.peak_rps},
        "replica_writes": [[round(t, 3), s, r] for t, s, r in log],
        "ready": {s: [[round(t - t0, 3), n] for t, n in v] for s, v in recorder.ready.items()},
        "cpu": [[round(t - t0, 3), b, c, ld] for t, b, c, ld in recorder.cpu],
        "windows": {str(k): {"count": h.count, "errors": result.latency.errors.get(k, 0),
                             **{f"p{round(q * 100)}": h.quantile(q)
                                for q in (0.5, 0.9, 0.95, 0.99)}}
                    for k, h in sorted(result.latency.histograms.items())}}


def _saturated(ms: tuple[s2r.ServiceMeasurement, ...]) -> list[str]:
    """Services whose fitted utilisation at a calibration load is 95% or more: the queue was
    growing, so that load measured the backlog, not a service time (the curve is then void)."""
    out = []
    for m in ms:
        mu = s2r.fit_service_rate(m.rate_rps, m.replicas * m.concurrency, m.work_mean_seconds)
        if m.rate_rps / (m.replicas * m.concurrency * mu) >= 0.95:
            out.append(m.name)
    return out


def _services(ms: tuple[s2r.ServiceMeasurement, ...]) -> dict[str, Any]:
    return {m.name: {"rate_rps": round(m.rate_rps, 2), "replicas": m.replicas,
                     "work_mean_ms": round(m.work_mean_seconds * 1e3, 2),
                     "service_mean_ms": round(m.service_mean_seconds * 1e3, 2),
                     "cpu_ms": round(m.cpu_seconds_per_request * 1e3, 2)} for m in ms}


def run(shop: Shop, api: ApiAccess, plan: Plan) -> dict[str, Any]:
    """Calibrate, play the sale, compare (the app deployed, one replica each, all ready)."""
    front, watcher = front_balancer(shop, api, shop.services[0].name)
    try:
        cal = calibrate(shop, front, plan)
        schedule, result, log, recorder = flash_sale(shop, front, plan, cal.peak_rps)
    finally:
        watcher.stop()
    return compare(shop, plan, cal, schedule, result, log, recorder)
