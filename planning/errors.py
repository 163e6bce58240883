"""Errors raised under `planning/`. Each names the object and the fix."""

from __future__ import annotations

from faults import PermanentError


class PlanError(PermanentError):
    """A plan that cannot be made: no announced event to plan for, a horizon too far ahead,
    a scenario whose demand a what-if cannot change."""
