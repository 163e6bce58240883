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


class ForecastInputError(ScalerError):
    """Permanent: a history, trace or horizon a forecaster cannot work with (too short, gaps)."""


class ModelUnavailableError(ScalerError):
    """The quantile model cannot run here (torch missing): install the `ml` extra
    (`pip install 'edgewise[ml]'`) or fall back to the seasonal baselines."""
