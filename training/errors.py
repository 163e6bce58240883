"""Errors raised under `training/`. Each names the object and the fix."""

from __future__ import annotations

from faults import PermanentError


class TrainingError(PermanentError):
    """Base of training/ errors."""


class ConfigError(TrainingError):
    """A training config file is missing or malformed."""


class ExportError(TrainingError):
    """A model that cannot be exported or converted (unsupported actor, wrong format)."""


class RunDirectoryError(TrainingError):
    """An --out that is not this tool's run directory, or one a new run would mix with."""
