"""Arrival schedules for the open-loop load generator, pure.

A `RateSchedule` is a piecewise-linear rate (requests per second) over seconds from the start.
`arrival_times` turns it into the intended send times: a Poisson process (time rescaling: unit
exponential gaps on the integrated rate, mapped back through its inverse) or evenly spaced
arrivals (the i-th at integrated rate i + 1/2). The same schedule and seed give the same times.
The load generator sends each request at its intended time, whatever happened to the ones
before it: the schedule, not the server, sets the pace (open loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from retail.errors import RetailError


class Process(StrEnum):
    POISSON = "poisson"
    CONSTANT = "constant"


@dataclass(frozen=True)
class RateSchedule:
    """Rate `rate_rps[i]` at `at_seconds[i]`, linear in between, 0 after the last point."""

    at_seconds: tuple[float, ...]
    rate_rps: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.at_seconds) != len(self.rate_rps) or len(self.at_seconds) < 2:
            raise RetailError("rate schedule: needs at least two (seconds, rps) points of "
                              f"equal count, got {len(self.at_seconds)} and {len(self.rate_rps)}")
        t = np.asarray(self.at_seconds, dtype=float)
        r = np.asarray(self.rate_rps, dtype=float)
        if not (np.isfinite(t).all() and np.isfinite(r).all()):
            raise RetailError("rate schedule: every time and rate must be finite")
        if t[0] != 0.0 or (np.diff(t) <= 0).any():
            raise RetailError("rate schedule: times must start at 0 and increase strictly")
        if (r < 0).any():
            raise RetailError(f"rate schedule: rates must be >= 0, got {r.min()}")

    @property
    def duration_seconds(self) -> float:
        return float(self.at_seconds[-1])

    def rate(self, seconds: np.ndarray) -> np.ndarray:
        """The rate at each of `seconds` (0 outside the schedule)."""
        s = np.asarray(seconds, dtype=float)
        inside = (s >= 0) & (s <= self.duration_seconds)
        result: np.ndarray = np.where(inside, np.interp(s, self.at_seconds, self.rate_rps), 0.0)
        return result

    def cumulative(self, seconds: np.ndarray) -> np.ndarray:
        """Expected arrivals from 0 to each of `seconds` (the integrated rate)."""
        t = np.asarray(self.at_seconds, dtype=float)
        r = np.asarray(self.rate_rps, dtype=float)
        knots = np.concatenate([[0.0], np.cumsum(0.5 * (r[1:] + r[:-1]) * np.diff(t))])
        s = np.clip(np.asarray(seconds, dtype=float), 0.0, self.duration_seconds)
        i = np.clip(np.searchsorted(t, s, side="right") - 1, 0, len(t) - 2)
        dt = s - t[i]
        slope = (r[i + 1] - r[i]) / (t[i + 1] - t[i])
        result: np.ndarray = knots[i] + r[i] * dt + 0.5 * slope * dt**2
        return result

    def mean_rates(self, window_seconds: float) -> np.ndarray:
        """The mean rate over each window [k w, (k + 1) w) of the schedule."""
        edges = np.arange(0.0, self.duration_seconds + 1e-9, window_seconds)
        if edges[-1] < self.duration_seconds:
            edges = np.append(edges, self.duration_seconds)
        result: np.ndarray = np.diff(self.cumulative(edges)) / np.diff(edges)
        return result


def flash_sale(base_rps: float, peak_rps: float, *, before_seconds: float, ramp_seconds: float,
               peak_seconds: float, decay_seconds: float, after_seconds: float) -> RateSchedule:
    """A compressed flash sale: base, a linear ramp to the peak, the peak held, a linear decay
    back to base, base again."""
    if not 0 <= base_rps <= peak_rps:
        raise RetailError(f"flash sale: need 0 <= base_rps <= peak_rps, got {base_rps}, "
                          f"{peak_rps}")
    spans = (before_seconds, ramp_seconds, peak_seconds, decay_seconds, after_seconds)
    if min(spans) <= 0:
        raise RetailError("flash sale: every phase must last > 0 seconds")
    at = np.cumsum([0.0, *spans])
    return RateSchedule(tuple(float(x) for x in at),
                        (base_rps, base_rps, peak_rps, peak_rps, base_rps, base_rps))


def constant(rate_rps: float, seconds: float) -> RateSchedule:
    return RateSchedule((0.0, float(seconds)), (float(rate_rps), float(rate_rps)))


def arrival_times(schedule: RateSchedule, process: Process, rng: np.random.Generator
                  ) -> np.ndarray:
    """Intended send times (seconds from the start, increasing) of every request."""
    total = float(schedule.cumulative(np.array([schedule.duration_seconds]))[0])
    if process is Process.CONSTANT:
        marks = np.arange(0.5, total, 1.0)
    else:
        gaps = rng.exponential(1.0, size=int(total + 10 * np.sqrt(total + 1) + 10))
        marks = np.cumsum(gaps)
        while marks[-1] < total:  # the tail beyond the expected count (rare)
            marks = np.append(marks, marks[-1] + np.cumsum(rng.exponential(1.0, size=100)))
        marks = marks[marks < total]
    # invert the integrated rate on a fine grid (monotone; flat stretches have no arrivals)
    grid = np.linspace(0.0, schedule.duration_seconds,
                       max(2, int(schedule.duration_seconds * 100) + 1))
    cum = schedule.cumulative(grid)
    result: np.ndarray = np.interp(marks, cum, grid)
    return result
