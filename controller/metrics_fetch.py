"""Fetching a tenant-supplied metrics URL (`spec.metrics.prometheusUrl`, `spec.metrics.directUrl`).

Whoever may write a PredictiveScaler in a namespace chooses these URLs, and the controller fetches
them from inside the cluster with its own network position. So every fetch:

- is checked against `UrlPolicy`: `http`/`https` only (no `file:`, no `ftp:`), a host, and, when
  the operator gave `--allow-metrics-host`, a host on that list (`prometheus.monitoring`,
  `*.monitoring.svc`, optionally with `:PORT`);
- follows no redirects (a redirect could leave the allowed hosts);
- reads at most `max_bytes` of body within `timeout_seconds` in total (a huge or slow-drip body
  cannot exhaust memory or hold a worker);
- never puts any of the body into an error message, a log line or a status condition (an error
  says the URL, the HTTP status and at most Prometheus' own `errorType` word), so a tenant cannot
  use the controller to read another service's responses.

docs/security.md ("Controller fetches") describes the trust model.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from controller.errors import ControllerError
from scaler.errors import MetricsUnavailableError

MAX_BODY_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024


class MetricsFetchError(MetricsUnavailableError, ControllerError):
    """A metrics URL could not be read (down, an HTTP error, too big, too slow)."""


class MetricsUrlRefusedError(MetricsFetchError):
    """A metrics URL this controller will not fetch (scheme, or host not allowed)."""

    def __init__(self, message: str, delay_seconds: float = 300.0) -> None:
        super().__init__(message, delay_seconds)


@dataclass(frozen=True)
class UrlPolicy:
    """Which metrics URLs may be fetched. `allowed_hosts` empty: any host (the default, for
    clusters where only trusted users write PredictiveScalers)."""

    allowed_hosts: tuple[str, ...] = ()

    def check(self, url: str, field: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise MetricsUrlRefusedError(f"{field} {url!r}: not a valid URL") from None
        if parts.scheme not in {"http", "https"}:
            raise MetricsUrlRefusedError(f"{field} {url!r}: only http and https are fetched")
        host = (parts.hostname or "").lower()
        if not host:
            raise MetricsUrlRefusedError(f"{field} {url!r}: no host")
        if parts.username or parts.password:
            raise MetricsUrlRefusedError(f"{field} {url!r}: credentials in the URL are refused")
        if self.allowed_hosts and not self.allows(host, port):
            raise MetricsUrlRefusedError(
                f"{field}: host {host!r} is not allowed by the controller's --allow-metrics-host "
                f"({', '.join(self.allowed_hosts)})")

    def allows(self, host: str, port: int | None) -> bool:
        for pattern in self.allowed_hosts:
            want_host, _, want_port = pattern.lower().partition(":")
            if want_port and str(port) != want_port:
                continue
            if fnmatch.fnmatchcase(host, want_host):
                return True
        return False


def bounded_get(session: requests.Session, url: str, *, params: Mapping[str, str] | None = None,
                timeout_seconds: float, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body of a 200 answer to GET `url`, at most `max_bytes`, within `timeout_seconds`.

    Errors (MetricsFetchError) name the URL and the status, never the body."""
    deadline = time.monotonic() + timeout_seconds
    try:
        with session.get(url, params=params, timeout=timeout_seconds, stream=True,
                         allow_redirects=False) as r:
            if r.status_code != 200:
                raise MetricsFetchError(f"{url}: HTTP {r.status_code}")
            declared = r.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise MetricsFetchError(f"{url}: body of {int(declared):,} bytes is over the "
                                        f"limit of {max_bytes:,}")
            body = bytearray()
            for chunk in r.iter_content(_CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise MetricsFetchError(f"{url}: body over the limit of {max_bytes:,} bytes")
                if time.monotonic() > deadline:
                    raise MetricsFetchError(f"{url}: body not read within {timeout_seconds:g} s")
            return bytes(body)
    except requests.RequestException as e:
        raise MetricsFetchError(f"{url}: {type(e).__name__}") from e
