"""Kubernetes adapter: the only module of the controller that imports `kubernetes`.

It implements the reconcile loop's `Cluster` port (scale subresource, HPAs, Events, status,
ConfigMaps), the informer's list and watch of PredictiveScalers and the Lease store for leader
election, and turns client exceptions into the
scaler's Temporary/Permanent errors (`raise ... from`), so a restarting apiserver is a retry, not
a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from controller.actuation import (
    ORIGINAL_MIN_ANNOTATION,
    OWNER_ANNOTATION,
    Action,
    ActuationKind,
    HpaView,
    workload_key,
)
from controller.errors import ApiPermanentError, ApiTemporaryError, ConflictError, ExpiredError
from controller.finalizer import Restore
from controller.informer import EventType, WatchEvent
from controller.leader import LeaseRecord
from controller.observe import WorkloadState
from controller.spec import GROUP, KIND, PLURAL, VERSION, ScalerRef, Target, WorkloadKind

TIMEOUT = (3.0, 10.0)  # connect, read seconds
T = TypeVar("T")


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """Out of cluster with a kubeconfig file, else the Pod's service account."""
    cfg = client.Configuration()
    if kubeconfig:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg)
    else:
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    cfg.retries = urllib3.Retry(total=1, connect=1, read=0, backoff_factor=0.2)
    if not cfg.verify_ssl:  # the kubeconfig asked for it; say so once, not per request
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return client.ApiClient(cfg)


@contextmanager
def _wrapped(what: str) -> Iterator[None]:
    try:
        yield
    except ApiException as e:
        detail = f"{what}: HTTP {e.status} {e.reason}"
        if e.status == 422 and e.body:
            detail += f": {_message(e.body)}"
        if e.status == 409:
            raise ConflictError(detail) from e
        if e.status == 410:  # a watch's (or a list's) resourceVersion was compacted away
            raise ExpiredError(detail) from e
        if e.status in (429,) or (e.status or 0) >= 500 or e.status == 0:
            raise ApiTemporaryError(detail, 1.0) from e
        raise ApiPermanentError(detail) from e
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise ApiTemporaryError(f"{what}: apiserver unreachable ({type(e).__name__})", 1.0) from e


def _call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with _wrapped(what):
        return fn(*args, _request_timeout=TIMEOUT, **kwargs)


def _message(body: str | bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))[:500]
    except (ValueError, AttributeError):
        return str(body)[:500]


def _event_name(key: str) -> str:
    return re.sub(r"[^a-z0-9.-]", "-", key.lower())[:250]


def _now() -> datetime:
    return datetime.now(UTC)


class KubeCluster:
    """The `Cluster` port over the Kubernetes API."""

    def __init__(self, api: client.ApiClient, component: str = "edgewise-controller") -> None:
        self.apps = client.AppsV1Api(api)
        self.autoscaling = client.AutoscalingV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.component = component

    def _scalers_call(self, namespace: str | None) -> tuple[Callable[..., Any], tuple[str, ...]]:
        if namespace:
            return self.custom.list_namespaced_custom_object, (GROUP, VERSION, namespace, PLURAL)
        return self.custom.list_cluster_custom_object, (GROUP, VERSION, PLURAL)

    def list_scalers(self, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Every PredictiveScaler (in `namespace`, or all) and the list's resourceVersion."""
        fn, args = self._scalers_call(namespace)
        out: dict[str, Any] = dict(_call("list PredictiveScalers", fn, *args))
        return list(out.get("items", [])), str(out["metadata"]["resourceVersion"])

    def watch_scalers(self, namespace: str | None, resource_version: str,
                      timeout_seconds: int) -> Iterator[WatchEvent]:
        """The changes after `resource_version`, until the server ends the stream after
        `timeout_seconds`. An ERROR event raises (the client's doing): 410 as ExpiredError."""
        fn, args = self._scalers_call(namespace)
        return watch_events(fn, *args, resource_version=resource_version,
                            timeout_seconds=timeout_seconds)

    def workload(self, namespace: str, target: Target) -> WorkloadState:
        what = f"get {target.kind.value} {namespace}/{target.name}"
        obj: Any
        if target.kind is WorkloadKind.DEPLOYMENT:
            obj = _call(what, self.apps.read_namespaced_deployment, target.name, namespace)
        else:
            obj = _call(what, self.apps.read_namespaced_stateful_set, target.name, namespace)
        ready = obj.status.ready_replicas if obj.status is not None else 0
        return WorkloadState(int(obj.spec.replicas or 0), int(ready or 0))

    def hpas(self, namespace: str) -> list[HpaView]:
        """Every HPA in the namespace, one LIST: the core picks each target's and the raised."""
        hpas = _call(f"list HPAs in {namespace}",
                     self.autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)
        return [_hpa_view(h) for h in hpas.items]

    def restore_hpa(self, namespace: str, restore: Restore) -> None:
        """The HPA's own minReplicas back, and our annotations gone (null deletes a key)."""
        body = {"metadata": {"annotations": {ORIGINAL_MIN_ANNOTATION: None,
                                             OWNER_ANNOTATION: None}},
                "spec": {"minReplicas": restore.min_replicas}}
        _call(f"restore HPA {namespace}/{restore.hpa}",
              self.autoscaling.patch_namespaced_horizontal_pod_autoscaler, restore.hpa,
              namespace, body)

    def set_finalizers(self, ref: ScalerRef, finalizers: list[str],
                       resource_version: str) -> None:
        """Merge patch of metadata.finalizers; the resourceVersion makes a concurrent change a
        ConflictError (409), retried next period, instead of a lost update."""
        body = {"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}}
        _call(f"set finalizers of PredictiveScaler {ref.namespace}/{ref.name}",
              self.custom.patch_namespaced_custom_object, GROUP, VERSION, ref.namespace, PLURAL,
              ref.name, body)

    def apply(self, namespace: str, action: Action) -> None:
        if action.kind is ActuationKind.SCALE:
            body = {"spec": {"replicas": action.replicas}}
            patch = (self.apps.patch_namespaced_deployment_scale
                     if action.workload_kind == WorkloadKind.DEPLOYMENT.value
                     else self.apps.patch_namespaced_stateful_set_scale)
            _call(f"scale {action.workload_kind} {namespace}/{action.workload}", patch,
                  action.workload, namespace, body)
            return
        assert action.hpa is not None
        hpa_body: dict[str, Any] = {"spec": {"minReplicas": action.replicas}}
        annotations = {}
        if action.record_original_min is not None:
            annotations[ORIGINAL_MIN_ANNOTATION] = str(action.record_original_min)
        if action.owner is not None:
            annotations[OWNER_ANNOTATION] = action.owner
        if annotations:
            hpa_body["metadata"] = {"annotations": annotations}
        _call(f"patch HPA {namespace}/{action.hpa}",
              self.autoscaling.patch_namespaced_horizontal_pod_autoscaler, action.hpa,
              namespace, hpa_body)

    def emit(self, ref: ScalerRef, key: str, reason: str, message: str, warning: bool) -> None:
        now = _now()
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=_event_name(key), namespace=ref.namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}", kind=KIND, name=ref.name,
                namespace=ref.namespace, uid=ref.uid or None),
            reason=reason, message=message[:1024], type="Warning" if warning else "Normal",
            source=client.V1EventSource(component=self.component), count=1,
            first_timestamp=now, last_timestamp=now)
        # ConflictError: the same decision, retried after a reconnect, is already recorded.
        with suppress(ConflictError):
            _call(f"create Event {key}", self.core.create_namespaced_event, ref.namespace, body)

    def write_status(self, ref: ScalerRef, status: dict[str, Any]) -> None:
        _call(f"update status of PredictiveScaler {ref.namespace}/{ref.name}",
              self.custom.patch_namespaced_custom_object_status, GROUP, VERSION, ref.namespace,
              PLURAL, ref.name, {"status": status})

    def read_config_map(self, namespace: str, name: str, key: str) -> str:
        cm = _call(f"get ConfigMap {namespace}/{name}", self.core.read_namespaced_config_map,
                   name, namespace)
        data = cm.data or {}
        if key not in data:
            raise ApiPermanentError(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return str(data[key])


def watch_events(fn: Callable[..., Any], *args: Any, resource_version: str,
                 timeout_seconds: int) -> Iterator[WatchEvent]:
    """`watch.Watch().stream` over a list function, with bookmarks, as `WatchEvent`s."""
    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
        fn, *args, resource_version=resource_version, timeout_seconds=timeout_seconds,
        allow_watch_bookmarks=True, _request_timeout=(TIMEOUT[0], timeout_seconds + 30))
    with _wrapped("watch PredictiveScalers"):
        for event in stream:
            yield WatchEvent(EventType(event["type"]), event["raw_object"])


def _hpa_view(h: Any) -> HpaView:
    annotations = h.metadata.annotations or {}
    original = annotations.get(ORIGINAL_MIN_ANNOTATION)
    ref = h.spec.scale_target_ref
    return HpaView(h.metadata.name, int(h.spec.min_replicas or 1), int(h.spec.max_replicas),
                   int(original) if original is not None else None,
                   workload_key(ref.kind, ref.name), annotations.get(OWNER_ANNOTATION))


class KubeLeases:
    """Lease reads and optimistic writes for `controller.leader`."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.api = client.CoordinationV1Api(api)
        self.namespace, self.name = namespace, name

    def read(self) -> LeaseRecord | None:
        try:
            lease = _call(f"get Lease {self.namespace}/{self.name}",
                          self.api.read_namespaced_lease, self.name, self.namespace)
        except ApiPermanentError as e:
            if "HTTP 404" in str(e):
                return None
            raise
        s: Any = lease.spec
        meta: Any = lease.metadata
        return LeaseRecord(s.holder_identity, _naive(s.acquire_time), _naive(s.renew_time),
                           int(s.lease_duration_seconds or 15), int(s.lease_transitions or 0),
                           meta.resource_version)

    def write(self, record: LeaseRecord) -> None:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                         resource_version=record.resource_version),
            spec=client.V1LeaseSpec(
                holder_identity=record.holder, lease_duration_seconds=record.duration_seconds,
                acquire_time=_aware(record.acquire_time), renew_time=_aware(record.renew_time),
                lease_transitions=record.transitions))
        what = f"write Lease {self.namespace}/{self.name}"
        if record.resource_version is None:
            _call(what, self.api.create_namespaced_lease, self.namespace, body)
        else:
            _call(what, self.api.replace_namespaced_lease, self.name, self.namespace, body)


def _naive(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=UTC)
