"""Errors raised by the scaling core. Each names the object and the fix.

Temporary errors (a metric that may come back on the next sync) are distinct from permanent ones
(a spec that can never work), as kopf separates `TemporaryError` from `PermanentError`.
"""

from __future__ import annotations


class ScalerError(Exception):
    """Base class of every error raised under `scaler/`."""


class MetricsUnavailableError(ScalerError):
    """Temporary: no usable samples this sync (all pods unready, metrics missing, no match).

    The HPA controller keeps the current replica count and sets ScalingActive=False.
    """


class InvalidSpecError(ScalerError):
    """Permanent: a spec that cannot be evaluated (missing CPU request, bad target)."""


class TemporaryError(ScalerError):
    """Worth retrying next period (an apiserver or Prometheus that is down, a conflict)."""

    def __init__(self, message: str, delay_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class PermanentError(ScalerError):
    """Retrying cannot help until someone changes the object (RBAC, a missing workload)."""


class PrometheusUnavailableError(TemporaryError, MetricsUnavailableError):
    """Prometheus did not answer, or answered with an error."""


class ModelLoadError(PermanentError):
    """The policy's model cannot be loaded (missing, corrupt, incompatible)."""


class ConflictError(TemporaryError):
    """A write lost an optimistic-concurrency race (HTTP 409)."""


class ExpiredError(TemporaryError):
    """A watch's resourceVersion is too old to watch from (HTTP 410 Gone): list again."""


class ForecastInputError(ScalerError):
    """Permanent: a history, trace or horizon a forecaster cannot work with (too short, gaps)."""


class ModelUnavailableError(ScalerError):
    """The quantile model cannot run here (torch missing): install the `ml` extra
    (`pip install 'edgewise[ml]'`) or fall back to the seasonal baselines."""
