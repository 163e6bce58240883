"""Errors raised by the in-cluster controller and its Kubernetes / Prometheus adapters.

Adapters wrap library exceptions (`raise ... from`) into these; each carries its kind in its
type (`faults.TemporaryError` with the delay the controller waits before retrying the object,
or `faults.PermanentError`).
"""

from __future__ import annotations

from faults import PermanentError, TemporaryError
from scaler.errors import MetricsUnavailableError, ScalerError


class ControllerError(ScalerError):
    """Base class of every error raised under `controller/`."""


class ApiTemporaryError(ControllerError, TemporaryError):
    """The apiserver is unreachable or answered 5xx / 429: retry after the delay."""


class ApiPermanentError(ControllerError, PermanentError):
    """The apiserver refused the request (RBAC, a missing object, an invalid write)."""


class PrometheusUnavailableError(MetricsUnavailableError, ControllerError):
    """Prometheus did not answer, or answered with an error (temporary)."""


class ModelLoadError(ControllerError, PermanentError):
    """The policy's model cannot be loaded (missing, corrupt, incompatible)."""


class ConflictError(ControllerError, TemporaryError):
    """A write lost an optimistic-concurrency race (HTTP 409): re-read and retry at once."""

    def __init__(self, message: str, delay_seconds: float = 0.0) -> None:
        super().__init__(message, delay_seconds)


class ExpiredError(ControllerError, TemporaryError):
    """A watch's resourceVersion is too old to watch from (HTTP 410 Gone): list again."""

    def __init__(self, message: str, delay_seconds: float = 0.0) -> None:
        super().__init__(message, delay_seconds)
