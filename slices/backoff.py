"""Retry timing for an agent whose registry (the hub) is unreachable: exponential, capped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first_seconds: float = 0.5
    factor: float = 2.0
    max_seconds: float = 5.0

    def delay_seconds(self, failures: int) -> float:
        """The wait after `failures` consecutive failed passes (0: none failed)."""
        if failures <= 0:
            return 0.0
        return min(self.max_seconds, self.first_seconds * self.factor ** (failures - 1))
