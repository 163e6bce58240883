"""The HPA/KEDA cost-vs-violations frontier and the beyond-the-frontier test."""

from __future__ import annotations

import pytest

from evaluation.frontier import FRONTIER_NAMES, beyond_frontier, frontier, setting_name


def fig(v: float, r: float) -> dict[str, float]:
    return {"slo_violation_minutes": v, "replica_hours": r}


SUMMARIES = {"hpa-30": fig(5, 200), "hpa": fig(40, 100), "keda-50": fig(3, 150),
             "keda-90": fig(500, 70), "rl": fig(1, 90)}


def test_settings_span_hpa_targets_and_keda_thresholds() -> None:
    assert setting_name("hpa", 70) == "hpa" and setting_name("keda", 40) == "keda-40"
    assert {"hpa-30", "hpa-80", "hpa", "keda-40", "keda", "keda-90"} <= set(FRONTIER_NAMES)


def test_frontier_keeps_only_settings_and_marks_pareto_points() -> None:
    points = {p.setting: p for p in frontier(SUMMARIES)}
    assert set(points) == {"hpa-30", "hpa", "keda-50", "keda-90"}
    assert not points["hpa-30"].pareto  # keda-50 has fewer violations for less
    assert points["hpa"].pareto and points["keda-50"].pareto and points["keda-90"].pareto


@pytest.mark.parametrize(
    ("violations", "replica_hours", "want"),
    [
        (1, 90, True),  # only keda-90 is as cheap, and it violates more
        (600, 90, False),  # keda-90 is cheaper and violates less
        (40, 100, False),  # ties hpa: not fewer
        (39, 100, True),
        (99, 60, True),  # cheaper than every setting: nothing to beat
    ],
)
def test_beyond_frontier(violations: float, replica_hours: float, want: bool) -> None:
    assert beyond_frontier(violations, replica_hours, frontier(SUMMARIES)) is want
