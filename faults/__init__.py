"""The two kinds of failure every package's errors derive from (kopf's split).

- `TemporaryError(message, delay_seconds)`: retrying may succeed (a server down, a lost
  optimistic-concurrency race, a busy database). `delay_seconds` is when to try again; the
  controller schedules its next attempt at an object by it.
- `PermanentError`: retrying cannot help until someone changes the input or the object.

Each package's `errors.py` mixes one of these into its own base class, so a caller can ask "is
this worth retrying?" of any error without knowing which package raised it.
"""

from __future__ import annotations


class TemporaryError(Exception):
    """Worth retrying after `delay_seconds`."""

    def __init__(self, message: str, delay_seconds: float = 1.0) -> None:
        if not delay_seconds >= 0:
            raise ValueError(f"delay_seconds must be >= 0, got {delay_seconds!r}")
        super().__init__(message)
        self.delay_seconds = delay_seconds


class PermanentError(Exception):
    """Retrying cannot help; the message names the object and the fix."""
