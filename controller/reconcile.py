"""One reconcile of one PredictiveScaler: observe, decide (policy + guardrails), act, report.

The loop is pure orchestration over injected ports: `Cluster` (scale subresource, HPAs, Events,
status), `MetricsReader` (Prometheus, or a direct pod scrape when Prometheus is down), a
`DecisionSink` (decision log and metrics) and a clock. Nothing here imports a Kubernetes or
Prometheus client; the adapters in controller/kube.py and controller/prometheus.py implement
the ports.

Policies are assembled when a scaler is first seen and whenever its spec changes; those that
forecast first get the entry-demand history from Prometheus (`controller/history.py`). When that
fails, or there is too little, the reactive rule decides (Fallback) and the history is loaded
again `history_retry_seconds` later (`unavailable_retry_seconds` if Prometheus did not answer).

The finalizer (`controller/finalizer.py`) restores the HPA floors a scaler raised when it is deleted
or turned Off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from controller.actuation import Action, HpaView, actuation_of, hpa_for, plan_action, workload_key
from controller.assembly import (
    Policies,
    Unready,
    assemble,
    calendar,
    history_ticks_needed,
    tick_seconds,
)
from controller.conditions import Condition, ConditionType, Reason
from controller.dayahead import DemandLog
from controller.decision import (
    DayAhead,
    Decision,
    Forecast,
    TargetDecision,
    decision_reason,
    status_document,
)
from controller.decision import summary as decision_summary
from controller.errors import PrometheusUnavailableError
from controller.finalizer import (
    Restore,
    Step,
    adding,
    finalizer_step,
    orphaned,
    raised_by,
    restores,
    without,
)
from controller.history import Grid, Series, grid, history, shortfall
from controller.observe import MetricKind, Samples, WorkloadState, build_observation, first_bad
from controller.spec import Mode, ScalerRef, ScalerSpec, Target, check_against_graph, parse_ref
from controller.spec import parse_spec as parse_scaler_spec
from envs.errors import GraphError
from envs.graph import ServiceGraph, parse_graph
from envs.observation import Observation
from scaler.errors import InvalidSpecError, MetricsUnavailableError, ScalerError
from scaler.forecast_policy import ForecastPolicy
from scaler.guardrails import ClipReason


class Cluster(Protocol):
    def workload(self, namespace: str, target: Target) -> WorkloadState: ...
    def hpas(self, namespace: str) -> list[HpaView]: ...
    def apply(self, namespace: str, action: Action) -> None: ...
    def emit(self, ref: ScalerRef, key: str, reason: str, message: str,
             warning: bool) -> None: ...
    def write_status(self, ref: ScalerRef, status: dict[str, Any]) -> None: ...
    def read_config_map(self, namespace: str, name: str, key: str) -> str: ...
    def restore_hpa(self, namespace: str, restore: Restore) -> None: ...
    def set_finalizers(self, ref: ScalerRef, finalizers: list[str],
                       resource_version: str) -> None: ...


class MetricsReader(Protocol):
    def read(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph) -> Samples: ...


class MetricsStore(MetricsReader, Protocol):
    """Prometheus: the current samples, and the entry demand's history."""

    def demand_history(self, namespace: str, spec: ScalerSpec, graph: ServiceGraph,
                       grid: Grid) -> list[Series]: ...


class DecisionSink(Protocol):
    def decided(self, ref: ScalerRef, decision: Decision) -> None: ...
    def fallback(self, ref: ScalerRef, reason: str | None) -> None: ...


@dataclass
class ScalerState:
    generation: int
    spec: ScalerSpec
    graph: ServiceGraph
    policies: Policies
    reload_at: datetime | None = None  # when to load the history again (None: loaded or unused)
    tick: int = -1
    decisions: int = 0
    fallback: str | None = None
    orphans_checked: bool = False  # HPAs of targets this spec dropped are restored
    demand: DemandLog | None = None  # the day-ahead forecast's input, once a history loaded


@dataclass(frozen=True)
class Observed:
    obs: Observation | None
    fallback_reason: Reason | None
    fallback_message: str = ""


class _Hold(Exception):
    """Neither the policy nor the reactive rule could decide this period."""

    def __init__(self, observed: Observed) -> None:
        super().__init__(observed.fallback_message)
        self.observed = observed


@dataclass
class Reconciler:
    cluster: Cluster
    prometheus: Callable[[str], MetricsStore]
    direct: Callable[[str], MetricsReader]
    sink: DecisionSink
    clock: Callable[[], datetime]
    history_retry_seconds: float = 3600.0
    unavailable_retry_seconds: float = 60.0
    trusted_model_keys: tuple[Ed25519PublicKey, ...] = ()  # --trusted-model-key
    states: dict[str, ScalerState] = field(default_factory=dict)

    def forget(self, keep_uids: set[str]) -> None:
        for uid in set(self.states) - keep_uids:
            del self.states[uid]

    def reconcile(self, obj: Mapping[str, Any]) -> Decision | None:
        ref = parse_ref(obj)
        meta = obj.get("metadata") or {}
        deleting = meta.get("deletionTimestamp") is not None
        old_status = dict(obj.get("status") or {})
        now = self.clock()
        if deleting:
            self._finalize(ref, meta, None, deleting=True)
            return None
        try:
            state = self._state(ref, obj, now)
        except InvalidSpecError as e:
            self._invalid(ref, old_status, str(e), now)
            return None
        spec = state.spec
        self._finalize(ref, meta, spec.mode, deleting=False)
        if spec.mode is Mode.OFF:
            self._write(ref, state, None, _off_conditions(ref), old_status, now)
            return None
        if spec.paused:
            self._write(ref, state, None, _paused_conditions(ref), old_status, now)
            return None
        try:
            workloads = {t.service: self.cluster.workload(ref.namespace, t) for t in spec.targets}
            listed = self.cluster.hpas(ref.namespace)
        except ScalerError as e:
            conds = [_cond(ConditionType.ABLE_TO_SCALE, False, Reason.FAILED_GET_SCALE, str(e),
                           ref)]
            self._write(ref, state, None, conds, old_status, now)
            raise
        targets = {t.service: workload_key(t.kind.value, t.name) for t in spec.targets}
        hpas = {service: hpa_for(listed, key) for service, key in targets.items()}
        if not state.orphans_checked:
            self._give_back(ref, meta, orphaned(raised_by(listed, ref.name),
                                                set(targets.values())),
                            " (its workload is no longer a target)")
            state.orphans_checked = True
        observed = self._observe(ref, state, workloads, now)
        self._note_fallback(ref, state, observed, now)
        if observed.obs is None:
            conds = _hold_conditions(ref, observed)
            self._write(ref, state, None, conds, old_status, now)
            return None
        try:
            decision, clipped, observed = self._decide(state, observed, workloads, hpas, now)
        except _Hold as hold:
            self._write(ref, state, None, _hold_conditions(ref, hold.observed), old_status, now)
            return None
        decision = self._act(ref, state, decision, hpas)
        state.decisions += 1
        self.sink.decided(ref, decision)
        if decision.changes:
            key = f"{ref.name}.{int(now.timestamp() // spec.period_seconds)}"
            prefix = "" if decision.acted else "shadow (not applied): "
            self.cluster.emit(ref, key, decision.reason.value, prefix + decision.message, False)
        conds = _decision_conditions(ref, decision, observed, clipped)
        self._write(ref, state, decision, conds, old_status, now)
        return decision

    def _finalize(self, ref: ScalerRef, meta: Mapping[str, Any], mode: Mode | None,
                  deleting: bool) -> None:
        """Add the finalizer before acting; on deletion or Off, restore and remove it."""
        finalizers = [str(f) for f in meta.get("finalizers") or []]
        step = finalizer_step(deleting, mode, finalizers)
        version = str(meta.get("resourceVersion", ""))
        if step is Step.ADD:
            self.cluster.set_finalizers(ref, adding(finalizers), version)
        elif step is Step.RESTORE:
            raised = raised_by(self.cluster.hpas(ref.namespace), ref.name)
            self._give_back(ref, meta, restores(raised), "")
            self.cluster.set_finalizers(ref, without(finalizers), version)

    def _give_back(self, ref: ScalerRef, meta: Mapping[str, Any],
                   todo: tuple[Restore, ...], why: str) -> None:
        """Each HPA's own minReplicas back, with an `HpaRestored` Event."""
        version = str(meta.get("resourceVersion", ""))
        for r in todo:
            self.cluster.restore_hpa(ref.namespace, r)
            self.cluster.emit(ref, f"{ref.name}.restore.{r.hpa}.{version}", "HpaRestored",
                              f"HPA {r.hpa}: minReplicas back to {r.min_replicas}{why}", False)

    def _state(self, ref: ScalerRef, obj: Mapping[str, Any], now: datetime) -> ScalerState:
        state = self.states.get(ref.uid)
        if state is not None and state.generation == ref.generation:
            if state.reload_at is not None and now >= state.reload_at:
                policies, state.reload_at, demand = self._policies(ref, state.spec, state.graph,
                                                                   now)
                state.policies = replace(policies, fallback=state.policies.fallback)
                state.demand = demand or state.demand
            return state
        spec = parse_scaler_spec(obj.get("spec") or {})
        graph = self._graph(ref, spec)
        check_against_graph(spec, graph.names)
        policies, reload_at, demand = self._policies(ref, spec, graph, now)
        state = ScalerState(ref.generation, spec, graph, policies, reload_at, demand=demand)
        self.states[ref.uid] = state
        return state

    def _policies(self, ref: ScalerRef, spec: ScalerSpec, graph: ServiceGraph, now: datetime
                  ) -> tuple[Policies, datetime | None, DemandLog | None]:
        """The policies, with the demand history loaded if the policy reads one; when to
        try again if it could not be loaded or is too short; and the demand log the day-ahead
        forecast is made from (None: no history was loaded)."""
        needed, keys = history_ticks_needed(spec), self.trusted_model_keys
        if needed is None:
            return assemble(spec, graph, now, trusted_keys=keys), None, None
        g = grid(now, tick_seconds(spec), spec.metrics.history_seconds)
        try:
            series = self.prometheus(spec.metrics.prometheus_url).demand_history(
                ref.namespace, spec, graph, g)
        except PrometheusUnavailableError as e:
            retry = timedelta(seconds=self.unavailable_retry_seconds)
            unready = Unready(Reason.HISTORY_UNAVAILABLE, f"demand history not loaded: {e}; "
                              f"next try in {retry.total_seconds():g} s")
            policies = assemble(spec, graph, now, unready=unready, trusted_keys=keys)
            return policies, now + retry, None
        h = history(g, series)
        demand = DemandLog(h.rps, g.end_epoch, g.step_seconds, calendar(spec, graph))
        short = shortfall(h, needed, spec.metrics.history_seconds)
        if short is not None:
            retry = timedelta(seconds=self.history_retry_seconds)
            unready = Unready(Reason.INSUFFICIENT_HISTORY,
                              f"{short}; next look in {retry.total_seconds() / 60:g} min")
            policies = assemble(spec, graph, now, unready=unready, trusted_keys=keys)
            return policies, now + retry, demand
        return assemble(spec, graph, now, history_rps=h.rps, trusted_keys=keys), None, demand

    def _graph(self, ref: ScalerRef, spec: ScalerSpec) -> ServiceGraph:
        source = spec.graph
        try:
            if source.inline is not None:
                return parse_graph(source.inline, name=ref.name)
            assert source.config_map_ref is not None
            cm = source.config_map_ref
            text = self.cluster.read_config_map(ref.namespace, cm.name, cm.key)
            return parse_graph(yaml.safe_load(text), name=cm.name)
        except (GraphError, yaml.YAMLError) as e:
            raise InvalidSpecError(f"spec.graph: {e}") from e

    def _observe(self, ref: ScalerRef, state: ScalerState,
                 workloads: dict[str, WorkloadState], now: datetime) -> Observed:
        spec, graph = state.spec, state.graph
        services = tuple(t.service for t in spec.targets)
        tick = state.tick + 1
        reason, message = None, ""
        try:
            samples = self.prometheus(spec.metrics.prometheus_url).read(ref.namespace, spec, graph)
            bad = first_bad(samples, services, (MetricKind.RATE, MetricKind.CPU), now,
                            spec.metrics.staleness_seconds)
            if bad is None:
                obs = build_observation(graph, samples, workloads, now, tick)
                unready = state.policies.unready
                if unready is None:
                    return Observed(obs, None)
                return Observed(obs, unready.reason, unready.message)
            reason, message = Reason(bad.problem.value), f"Prometheus: {bad.message}"
        except PrometheusUnavailableError as e:
            reason, message = Reason.PROMETHEUS_UNAVAILABLE, str(e)
        except MetricsUnavailableError as e:
            reason, message = Reason.SERIES_MISSING, str(e)
        return Observed(self._direct(ref, state, workloads, now, tick), reason, message)

    def _direct(self, ref: ScalerRef, state: ScalerState, workloads: dict[str, WorkloadState],
                now: datetime, tick: int) -> Observation | None:
        url = state.spec.metrics.direct_url
        if url is None:
            return None
        try:
            samples = self.direct(url).read(ref.namespace, state.spec, state.graph)
        except MetricsUnavailableError:
            return None
        services = tuple(t.service for t in state.spec.targets)
        if first_bad(samples, services, (MetricKind.CPU,), now,
                     state.spec.metrics.staleness_seconds) is not None:
            return None
        return build_observation(state.graph, samples, workloads, now, tick)

    def _note_fallback(self, ref: ScalerRef, state: ScalerState, observed: Observed,
                       now: datetime) -> None:
        reason = observed.fallback_reason.value if observed.fallback_reason else None
        if reason != state.fallback:
            key = f"{ref.name}.fallback.{int(now.timestamp() // state.spec.period_seconds)}"
            if reason is not None:
                self.cluster.emit(ref, key, "FallbackActivated",
                                  f"reactive HPA rule decides: {observed.fallback_message}", True)
            else:
                self.cluster.emit(ref, key, "FallbackCleared",
                                  "the policy decides again", False)
        state.fallback = reason
        self.sink.fallback(ref, reason)

    def _decide(self, state: ScalerState, observed: Observed,
                workloads: dict[str, WorkloadState], hpas: dict[str, HpaView | None],
                now: datetime) -> tuple[Decision, str, Observed]:
        obs = observed.obs
        assert obs is not None
        policies, fallback = state.policies, observed.fallback_reason is not None
        guarded = policies.fallback if fallback or policies.primary is None else policies.primary
        try:
            desired = np.asarray(guarded.decide(obs), dtype=int)
        except Exception as e:  # a broken policy must not take the controller down
            observed_reason = f"policy {guarded.name} failed: {type(e).__name__}: {e}"
            guarded, fallback = policies.fallback, True
            observed = Observed(None, Reason.POLICY_FAILED, observed_reason)
            try:
                desired = np.asarray(guarded.decide(obs), dtype=int)
            except Exception as again:  # noqa: BLE001 (no rule can decide: hold replicas)
                raise _Hold(observed) from again
            observed = Observed(obs, Reason.POLICY_FAILED, observed_reason)
        state.tick = obs.tick
        reasons = guarded.last.reasons if guarded.last else ()
        event = None if fallback or policies.event_floor is None or \
            policies.event_floor.active is None else policies.event_floor.active
        targets = []
        for t in state.spec.targets:
            i = state.graph.index(t.service)
            clip = reasons[i] if i < len(reasons) else ClipReason.NONE
            targets.append(TargetDecision(
                t.name, t.service, workloads[t.service].desired, workloads[t.service].ready,
                int(desired[i]), clip.value, actuation_of(hpas[t.service])))
        cur, want = sum(x.current for x in targets), sum(x.desired for x in targets)
        clipped = [x for x in targets if x.reason != ClipReason.NONE.value]
        reason = decision_reason(fallback, event.event.name if event else None, bool(clipped),
                                 cur, want)
        message = decision_summary(tuple(targets))
        if event is not None:
            message += (f"; event {event.event.name} at {event.event.start:%H:%M:%S}Z, expected "
                        f"uplift {event.event.expected_uplift:g}x over {event.reference_rps:.1f} "
                        "rps")
        if fallback:
            message += f"; fallback: {observed.fallback_message}"
        forecast = _forecast(obs, event, None if fallback else policies.forecaster,
                             tick_seconds(state.spec), _day_ahead(state, obs))
        decision = Decision(now, obs.tick, state.spec.mode, guarded.name, reason, message,
                            tuple(targets), forecast, acted=False,
                            fallback_reason=observed.fallback_reason.value
                            if observed.fallback_reason else None)
        return decision, ", ".join(f"{x.workload}: {x.reason}" for x in clipped), observed

    def _act(self, ref: ScalerRef, state: ScalerState, decision: Decision,
             hpas: dict[str, HpaView | None]) -> Decision:
        if state.spec.mode is not Mode.ACTIVE:
            return decision
        kinds = {t.name: t.kind.value for t in state.spec.targets}
        for t in decision.targets:
            action = plan_action(t.workload, t.desired, t.current, hpas[t.service],
                                 kinds[t.workload], owner=ref.name)
            if action is not None:
                self.cluster.apply(ref.namespace, action)
        return Decision(**{**decision.__dict__, "acted": True})

    def _write(self, ref: ScalerRef, state: ScalerState, decision: Decision | None,
               conditions: list[Condition], old_status: dict[str, Any], now: datetime) -> None:
        status = status_document(decision, conditions, old_status, ref.generation,
                                 state.decisions, now, state.spec.mode)
        self.cluster.write_status(ref, status)

    def _invalid(self, ref: ScalerRef, old_status: dict[str, Any], message: str,
                 now: datetime) -> None:
        conds = [_cond(ConditionType.READY, False, Reason.INVALID_SPEC, message, ref)]
        status = status_document(None, conds, old_status, ref.generation, 0, now, Mode.OFF)
        self.cluster.write_status(ref, status)
        if old_status.get("observedGeneration") != ref.generation:
            self.cluster.emit(ref, f"{ref.name}.invalid.{ref.generation}", "InvalidSpec",
                              message, True)


def _cond(kind: ConditionType, status: bool | None, reason: Reason, message: str,
          ref: ScalerRef) -> Condition:
    return Condition(kind, status, reason, message, None, ref.generation)


def _day_ahead(state: ScalerState, obs: Observation) -> DayAhead | None:
    """This period's entry rate into the demand log, and today's forecast at this time."""
    if state.demand is None:
        return None
    state.demand.observe(obs.now, obs.entry_rate_rps)
    q = state.demand.quantiles(obs.now)
    return None if q is None else DayAhead(state.graph.entry, *q)


def _forecast(obs: Observation, event: Any, forecaster: ForecastPolicy | None,
              tick: int, day_ahead: DayAhead | None) -> Forecast:
    """The announced event's peak; else the forecasting policy's peak over its lead; else
    the current rate. With today's day-ahead P50 and P90 when there is one."""
    if event is None:
        ahead = forecaster.last_forecast_rps if forecaster is not None else None
        if ahead is None or len(ahead) == 0:
            return Forecast(obs.entry_rate_rps, obs.entry_rate_rps, 0.0, day_ahead=day_ahead)
        return Forecast(obs.entry_rate_rps, float(ahead.max()), float(len(ahead) * tick),
                        day_ahead=day_ahead)
    ev = event.event
    horizon = max(0.0, (ev.start - obs.now).total_seconds())
    return Forecast(obs.entry_rate_rps, event.reference_rps * ev.expected_uplift, horizon,
                    ev.name, day_ahead)


def _off_conditions(ref: ScalerRef) -> list[Condition]:
    return [_cond(ConditionType.READY, True, Reason.MODE_OFF, "mode Off: nothing is decided",
                  ref),
            _cond(ConditionType.SCALING_ACTIVE, False, Reason.MODE_OFF, "mode Off", ref)]


def _paused_conditions(ref: ScalerRef) -> list[Condition]:
    return [_cond(ConditionType.READY, True, Reason.PAUSED,
                  "spec.paused: replicas held, nothing is decided", ref),
            _cond(ConditionType.SCALING_ACTIVE, False, Reason.PAUSED, "paused", ref)]


def _fallback_condition(ref: ScalerRef, observed: Observed) -> Condition:
    if observed.fallback_reason is None:
        return _cond(ConditionType.FALLBACK, False, Reason.POLICY, "the policy decides", ref)
    return _cond(ConditionType.FALLBACK, True, observed.fallback_reason,
                 observed.fallback_message, ref)


def _hold_conditions(ref: ScalerRef, observed: Observed) -> list[Condition]:
    return [
        _cond(ConditionType.READY, True, Reason.RECONCILED, "holding replicas", ref),
        _cond(ConditionType.ABLE_TO_SCALE, True, Reason.SUCCEEDED_GET_SCALE, "", ref),
        _cond(ConditionType.SCALING_ACTIVE, False, Reason.NO_METRICS,
              "no usable metrics from Prometheus nor the direct source; replicas held", ref),
        _fallback_condition(ref, observed),
    ]


def _decision_conditions(ref: ScalerRef, decision: Decision, observed: Observed,
                         clipped: str) -> list[Condition]:
    ready_reason = Reason.SHADOW if decision.mode is Mode.SHADOW else Reason.RECONCILED
    return [
        _cond(ConditionType.READY, True, ready_reason, decision.reason.value, ref),
        _cond(ConditionType.ABLE_TO_SCALE, True, Reason.SUCCEEDED_GET_SCALE, "", ref),
        _cond(ConditionType.SCALING_ACTIVE, True, Reason.VALID_METRICS, "", ref),
        _cond(ConditionType.SCALING_LIMITED, bool(clipped),
              Reason.CLIPPED if clipped else Reason.DESIRED_WITHIN_RANGE, clipped, ref),
        _fallback_condition(ref, observed),
    ]
