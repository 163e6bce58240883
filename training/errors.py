"""Errors raised under `training/`. Each names the object and the fix."""

from __future__ import annotations


class TrainingError(Exception):
    """Base of training/ errors."""


class PlanError(TrainingError):
    """A plan that cannot be made: no announced event to plan for, a horizon too far ahead,
    a scenario whose demand a what-if cannot change."""


class ConfigError(TrainingError):
    """A training config file is missing or malformed."""


class ModelError(TrainingError):
    """A policy export cannot be used (permanent: retrain or re-export)."""


class ModelCorruptError(ModelError):
    """A file of the export is missing, unreadable or does not match its checksum."""


class ManifestMismatchError(ModelError):
    """The manifest is for another env id or version (or another manifest format)."""


class SchemaMismatchError(ModelError):
    """The model's observation schema differs from what this code encodes for the graph."""
