"""The hub's Kubernetes client: one configured `ApiClient` per kubeconfig, and the mapping of
apiserver answers to slices errors.

Every call has a short timeout and unreachable-hub errors become `HubUnavailableError`
(temporary), so an agent keeps its last config and backs off; 403, 404, 409 and 4xx answers map
to the permanent errors that name the object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from slices.errors import (
    AlreadyExistsError,
    ConflictError,
    ForbiddenError,
    HubUnavailableError,
    NotFoundError,
    ValidationError,
)

TIMEOUT = (2.0, 5.0)  # connect, read seconds: a dead hub must not stall an agent's pass


def api_client(kubeconfig: str) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig,  # type: ignore[no-untyped-call]
                            client_configuration=cfg)
    cfg.retries = urllib3.Retry(total=0, connect=0, read=0)  # the agent's loop retries
    if not cfg.verify_ssl:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return client.ApiClient(cfg)


@contextmanager
def hub_call(what: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        status = int(exc.status or 0)
        if status == 403:
            raise ForbiddenError(f"hub refused {what} (403): this site's token does not allow "
                                 "it") from exc
        if status == 404:
            raise NotFoundError(f"{what}: not found on the hub") from exc
        if status == 409 and api_reason(exc) == "AlreadyExists":
            raise AlreadyExistsError(f"{what}: already exists on the hub") from exc
        if status == 409:
            raise ConflictError(f"{what}: conflict on the hub ({exc.reason})") from exc
        if status in (400, 422):
            raise ValidationError(f"{what}: the hub rejected it: {exc.reason}") from exc
        raise HubUnavailableError(f"{what}: hub answered {status} {exc.reason}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise HubUnavailableError(f"{what}: hub unreachable ({type(exc).__name__})") from exc


def api_reason(exc: ApiException) -> str:
    """The `reason` of the apiserver's Status body (AlreadyExists vs Conflict for a 409)."""
    try:
        return str(json.loads(exc.body or "{}").get("reason", ""))
    except (ValueError, AttributeError):
        return ""
