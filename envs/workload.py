"""Demand at the entry point: seasonality, trend, noise and retail events, from a seeded generator.

Everything here is pure: the same `WorkloadSpec`, events and `numpy.random.Generator` seed give
the same trace. Rates are requests per second at the graph's entry service, one value per tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from envs.errors import ScenarioError

DAY_SECONDS = 86_400
WEEK_SECONDS = 7 * DAY_SECONDS


@dataclass(frozen=True)
class Event:
    """A demand event: at its peak, demand is `multiplier` times the ordinary daily peak.

    The uplift ramps up linearly from `start` over `ramp_seconds`, holds for `peak_seconds`, then
    decays exponentially with time constant `decay_seconds`; it is added on top of ordinary demand
    (a midnight sale at 8x lifts the night's trough to about 8x the usual evening peak).

    `announced` events are on the calendar ahead of time (a policy may see them); surprise surges
    are not.
    """

    name: str
    start: datetime
    multiplier: float
    ramp_seconds: float
    peak_seconds: float
    decay_seconds: float
    announced: bool = True

    def __post_init__(self) -> None:
        if self.multiplier <= 0:
            raise ScenarioError(f"event {self.name!r}: field 'multiplier' must be > 0")
        for f in ("ramp_seconds", "peak_seconds", "decay_seconds"):
            if getattr(self, f) < 0:
                raise ScenarioError(f"event {self.name!r}: field {f!r} must be >= 0")

    @property
    def end(self) -> datetime:
        """End of the event window: the peak plus three decay time constants (95% decayed)."""
        return self.start + timedelta(
            seconds=self.ramp_seconds + self.peak_seconds + 3 * self.decay_seconds
        )

    def uplift(self, seconds_from_start: np.ndarray) -> np.ndarray:
        """Added demand, in units of the ordinary daily peak (0 outside the event)."""
        t = np.asarray(seconds_from_start, dtype=float)
        m = max(self.multiplier - 1.0, 0.0)
        ramp = np.clip(t / max(self.ramp_seconds, 1e-9), 0.0, 1.0)
        after_peak = t - self.ramp_seconds - self.peak_seconds
        decay = np.exp(-np.maximum(after_peak, 0.0) / max(self.decay_seconds, 1e-9))
        shape = np.where(t < 0, 0.0, np.where(after_peak > 0, decay, ramp))
        result: np.ndarray = m * shape
        return result


@dataclass(frozen=True)
class WorkloadSpec:
    """Shape of ordinary demand. `daily_profile` gives 24 hourly weights (peak 1.0)."""

    base_rps: float = 200.0
    daily_profile: tuple[float, ...] = (
        0.12,
        0.08,
        0.06,
        0.05,
        0.05,
        0.07,
        0.15,
        0.30,
        0.45,
        0.55,
        0.62,
        0.70,
        0.78,
        0.75,
        0.70,
        0.68,
        0.70,
        0.78,
        0.88,
        0.97,
        1.00,
        0.90,
        0.60,
        0.30,
    )
    weekly_profile: tuple[float, ...] = (0.90, 0.88, 0.90, 0.95, 1.05, 1.20, 1.12)
    trend_per_week: float = 0.01
    noise_cv: float = 0.05
    noise_correlation: float = 0.8
    holiday_weeks: tuple[tuple[datetime, float], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.base_rps <= 0:
            raise ScenarioError("workload: field 'base_rps' must be > 0")
        if len(self.daily_profile) != 24:
            raise ScenarioError("workload: field 'daily_profile' must have 24 hourly values")
        if len(self.weekly_profile) != 7:
            raise ScenarioError("workload: field 'weekly_profile' must have 7 values (Mon..Sun)")
        if not 0 <= self.noise_correlation < 1:
            raise ScenarioError("workload: field 'noise_correlation' must be in [0, 1)")


def tick_times(start: datetime, ticks: int, tick_seconds: int) -> np.ndarray:
    """Seconds since `start` of each tick's beginning."""
    return np.arange(ticks, dtype=float) * tick_seconds


def _seconds_into_day(start: datetime) -> float:
    return (start - start.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()


def daily_peak(spec: WorkloadSpec, start: datetime, offsets: np.ndarray) -> np.ndarray:
    """The ordinary daily peak demand (base x weekday x trend) on each tick's day."""
    day = ((offsets + _seconds_into_day(start)) // DAY_SECONDS).astype(int)
    weekly = np.asarray(spec.weekly_profile)[(day + start.weekday()) % 7]
    result: np.ndarray = (
        spec.base_rps * weekly * (1.0 + spec.trend_per_week * offsets / WEEK_SECONDS)
    )
    return result


def seasonal_shape(spec: WorkloadSpec, start: datetime, offsets: np.ndarray) -> np.ndarray:
    """Deterministic demand (no noise, no events): daily peak x hour-of-day profile x holidays."""
    hour = ((offsets + _seconds_into_day(start)) / 3600.0) % 24.0
    daily = np.interp(hour, np.arange(25), np.append(spec.daily_profile, spec.daily_profile[0]))
    holiday = np.ones_like(offsets)
    for week_start, mult in spec.holiday_weeks:
        lo = (week_start - start).total_seconds()
        holiday = np.where((offsets >= lo) & (offsets < lo + WEEK_SECONDS), holiday * mult, holiday)
    result: np.ndarray = daily_peak(spec, start, offsets) * daily * holiday
    return result


def event_uplift(events: tuple[Event, ...], start: datetime, offsets: np.ndarray) -> np.ndarray:
    """Sum of the events' uplifts, in units of the ordinary daily peak."""
    uplift = np.zeros_like(offsets)
    for ev in events:
        uplift = uplift + ev.uplift(offsets - (ev.start - start).total_seconds())
    return uplift


def ar1_path(shocks: np.ndarray, phi: float, level: float) -> np.ndarray:
    """The AR(1) path x[i] = phi x[i-1] + shocks[i], from x[-1] = `level`; ~0.3 us a tick."""
    path = np.empty(len(shocks))
    for i, shock in enumerate(np.asarray(shocks, dtype=float).tolist()):
        level = phi * level + shock
        path[i] = level
    return path


def generate(
    spec: WorkloadSpec,
    events: tuple[Event, ...],
    start: datetime,
    ticks: int,
    tick_seconds: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Entry demand (requests per second) for each tick: (seasonal + events) x AR(1) log-noise."""
    offsets = tick_times(start, ticks, tick_seconds)
    mean = seasonal_shape(spec, start, offsets) + daily_peak(spec, start, offsets) * event_uplift(
        events, start, offsets
    )
    phi = spec.noise_correlation
    shocks = rng.normal(0.0, spec.noise_cv * np.sqrt(1 - phi**2), size=ticks)
    noise = ar1_path(shocks, phi, float(rng.normal(0.0, spec.noise_cv)))
    result: np.ndarray = np.maximum(mean * np.exp(noise - 0.5 * spec.noise_cv**2), 0.0)
    return result  # a falling trend never makes demand negative
