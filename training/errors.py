"""Errors raised under `training/`. Each names the object and the fix."""

from __future__ import annotations


class PlanError(Exception):
    """A plan that cannot be made: no announced event to plan for, a horizon too far ahead,
    a scenario whose demand a what-if cannot change."""
