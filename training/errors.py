"""Errors raised under `training/`. Each names the object and the fix."""

from __future__ import annotations

from faults import PermanentError


class TrainingError(PermanentError):
    """Base of training/ errors."""


class ConfigError(TrainingError):
    """A training config file is missing or malformed."""
