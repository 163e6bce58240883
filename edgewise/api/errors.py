"""Errors of the API. Each becomes a JSON body {"error": {"field", "message"}}; never a 500."""

from __future__ import annotations


class ApiError(Exception):
    """A request the API refuses: 4xx naming the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class SourceUnavailableError(Exception):
    """Temporary: Prometheus or the apiserver did not answer; the API says 503 and why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source} unavailable: {reason}")
        self.source, self.reason = source, reason
