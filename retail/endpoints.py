"""Ready endpoints of a Service, read from the Kubernetes API (stdlib HTTP: the app image needs
no client library), and a thread that keeps a balancer's endpoint set current.

In a Pod the API address, token and CA come from the in-cluster environment (the ServiceAccount
files and `KUBERNETES_SERVICE_HOST`/`PORT`, as client-go's in-cluster config reads them); the
load generator on a host passes them itself. Only `subsets[].addresses` (ready addresses) are
used; `notReadyAddresses` never get traffic, so a starting replica serves once it is Ready.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from retail.balancer import LeastOutstanding
from retail.errors import EndpointsUnavailableError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class ApiAccess:
    url: str  # https://host:port
    token: str
    ca_file: str | None  # None: no verification (a lab apiserver's self-signed certificate)

    @staticmethod
    def in_cluster() -> ApiAccess:
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise EndpointsUnavailableError("not in a cluster: KUBERNETES_SERVICE_HOST unset", 5)
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        return ApiAccess(f"https://{host}:{port}", token, str(SERVICE_ACCOUNT / "ca.crt"))

    def context(self) -> ssl.SSLContext:
        if self.ca_file is None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cafile=self.ca_file)


def ready_addresses(doc: dict[str, object], port_name: str) -> list[str]:
    """`ip:port` of every ready address of an Endpoints object (pure)."""
    out: list[str] = []
    subsets = doc.get("subsets") or []
    assert isinstance(subsets, list)
    for subset in subsets:
        ports = [p for p in subset.get("ports") or [] if p.get("name", "") == port_name]
        if not ports:
            ports = (subset.get("ports") or [])[:1]
        for address in subset.get("addresses") or []:
            out += [f"{address['ip']}:{p['port']}" for p in ports]
    return sorted(out)


def read_endpoints(api: ApiAccess, namespace: str, service: str, port_name: str = "http",
                   timeout_seconds: float = 3.0) -> list[str]:
    url = f"{api.url}/api/v1/namespaces/{namespace}/endpoints/{service}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api.token}",
                                               "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_seconds, context=api.context()) as r:
            doc = json.loads(r.read(MAX_BODY_BYTES))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return []
        raise EndpointsUnavailableError(f"endpoints {namespace}/{service}: HTTP {e.code}") from e
    except (OSError, ValueError) as e:
        raise EndpointsUnavailableError(f"endpoints {namespace}/{service}: {e}") from e
    return ready_addresses(doc, port_name)


class EndpointWatcher:
    """Polls one Service's endpoints every `every_seconds` into a balancer (daemon thread)."""

    def __init__(self, api: ApiAccess, namespace: str, service: str,
                 balancer: LeastOutstanding, every_seconds: float = 1.0) -> None:
        self.api, self.namespace, self.service = api, namespace, service
        self.balancer, self.every_seconds = balancer, every_seconds
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True,
                                       name=f"endpoints-{service}")
        self.last_error = ""

    def refresh(self) -> None:
        self.balancer.set_endpoints(read_endpoints(self.api, self.namespace, self.service))

    def start(self) -> EndpointWatcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
                self.last_error = ""
            except EndpointsUnavailableError as e:  # keep the last list; try again
                self.last_error = str(e)
            self._stop.wait(self.every_seconds)
