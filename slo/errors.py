"""Errors of the SLO core. Each names the field and the fix."""

from __future__ import annotations

from faults import PermanentError


class SloError(Exception):
    """Base class of every error raised under `slo/`."""


class InvalidSloError(SloError, PermanentError):
    """Permanent: an SLO definition that cannot be turned into rules (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
