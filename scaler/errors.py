"""Errors raised by the scaling core (policies, forecasters, the learned-policy runtime).

Each names the object and the fix, and carries its kind in its type: a `faults.TemporaryError`
(a metric that may come back next sync) or a `faults.PermanentError` (a spec or a model that can
never work as it is).
"""

from __future__ import annotations

from faults import PermanentError, TemporaryError


class ScalerError(Exception):
    """Base class of every error raised under `scaler/`."""


class MetricsUnavailableError(ScalerError, TemporaryError):
    """No usable samples this sync (all pods unready, metrics missing, no match).

    The HPA controller keeps the current replica count and sets ScalingActive=False.
    """


class InvalidSpecError(ScalerError, PermanentError):
    """A spec that cannot be evaluated (missing CPU request, bad target)."""


class ForecastInputError(ScalerError, PermanentError):
    """A history, trace or horizon a forecaster cannot work with (too short, gaps)."""


class ModelUnavailableError(ScalerError, PermanentError):
    """The quantile model cannot run here (torch missing): install the `ml` extra
    (`pip install 'edgewise[ml]'`) or fall back to the seasonal baselines."""


class ModelError(ScalerError, PermanentError):
    """A policy export cannot be used (retrain or re-export)."""


class ModelCorruptError(ModelError):
    """A file of the export is missing, unreadable or does not match its checksum."""


class ManifestMismatchError(ModelError):
    """The manifest is for another env id or version (or another manifest format)."""


class SchemaMismatchError(ModelError):
    """The model's observation schema differs from what this code encodes for the graph."""


class UnsignedModelError(ModelError):
    """A trusted key is configured and the export carries no (readable) signature."""


class SignatureMismatchError(ModelError):
    """The export's signature does not verify with any trusted key (tampered, or another key)."""


class KeyFileError(ScalerError, PermanentError):
    """A signing or trusted key that cannot be read or is not an Ed25519 key."""
