"""What `edgewise serve` is configured with, parsed once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_RANGE_SECONDS = 31 * 86_400   # one SLO window and a day
MAX_POINTS = 11_000              # Prometheus refuses more than 11,000 points per series


@dataclass(frozen=True)
class ServeSettings:
    database_url: str
    slo_file: Path | None = None
    prometheus_url: str | None = None
    kubeconfig: str | None = None
    kube_auth: bool = False          # accept Kubernetes bearer tokens (TokenReview + SAR)
    audit_log: Path | None = None    # the audit log as JSON lines, besides the store
    prometheus_timeout_seconds: float = 3.0
    demo: bool = False


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
