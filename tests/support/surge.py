"""A short scenario with one surprise surge, for tests of what happens during its ramp."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from envs.scenario import Scenario, load_scenario
from envs.workload import Event

TICKS = 300


def surge_scenario() -> Scenario:
    """The boutique on an ordinary day (normal-week's first 5 hours) with a surprise 4x surge
    two hours in: a 30-minute ramp, 30 minutes at its peak, then a 30-minute decay."""
    sc = load_scenario("normal-week")
    surge = Event("surge", sc.start + timedelta(hours=2), 4.0, 1800.0, 1800.0, 1800.0,
                  announced=False)
    return replace(sc, duration_seconds=TICKS * sc.tick_seconds, events=(surge,))
