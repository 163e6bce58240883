"""Errors of the retail app and its load generator; each names the field or endpoint at fault."""

from __future__ import annotations

from faults import PermanentError, TemporaryError


class RetailError(PermanentError):
    """Bad input: a rate schedule, a service configuration, a histogram bound."""


class EndpointsUnavailableError(TemporaryError):
    """The Kubernetes API did not answer the endpoints read; the last list stays in use."""
