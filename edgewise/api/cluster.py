"""The Kubernetes side of the API: PredictiveScalers (list, read, patch: mode, paused, a
plan's acknowledgement) and their
Events. Library errors become `SourceUnavailableError` (503) or `ApiError` (404)."""

from __future__ import annotations

from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.kube import api_client
from controller.spec import GROUP, PLURAL, VERSION
from edgewise.api.errors import ApiError, SourceUnavailableError

TIMEOUT = 5


class Fleet(Protocol):
    def scalers(self) -> list[dict[str, Any]]: ...

    def scaler(self, namespace: str, name: str) -> dict[str, Any]: ...

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]: ...


class KubeFleet:
    def __init__(self, kubeconfig: str | None) -> None:
        self.api = api_client(kubeconfig)
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)

    def _call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, _request_timeout=TIMEOUT, **kw)
        except ApiException as e:
            if e.status == 404:
                raise ApiError(404, f"{what} not found", "name") from e
            raise SourceUnavailableError("kubernetes", f"{what}: HTTP {e.status}") from e
        except Exception as e:  # urllib3 connection errors and the like
            raise SourceUnavailableError("kubernetes", f"{what}: {type(e).__name__}") from e

    def scalers(self) -> list[dict[str, Any]]:
        got = self._call("PredictiveScalers", self.custom.list_cluster_custom_object,
                         GROUP, VERSION, PLURAL)
        return list(got.get("items", []))

    def scaler(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self._call(f"PredictiveScaler {namespace}/{name}",
                               self.custom.get_namespaced_custom_object,
                               GROUP, VERSION, namespace, PLURAL, name))

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A merge patch of the PredictiveScaler (spec fields, annotations)."""
        return dict(self._call(f"PredictiveScaler {namespace}/{name}",
                               self.custom.patch_namespaced_custom_object,
                               GROUP, VERSION, namespace, PLURAL, name, body))

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        got = self._call(f"Events of {namespace}/{name}", self.core.list_namespaced_event,
                         namespace, field_selector=f"involvedObject.name={name}")
        return [{"time": str(e.last_timestamp or e.event_time or ""), "type": e.type,
                 "reason": e.reason, "message": e.message} for e in got.items]
