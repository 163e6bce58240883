"""bench.sim_to_real refuses a run whose calibration saturated a service (pure)."""

from __future__ import annotations

from bench.sim_to_real import refusal


def test_a_clean_calibration_is_a_comparison() -> None:
    assert refusal({"contention": {"saturated": {"low": [], "high": []}}}) is None


def test_a_saturated_calibration_load_is_refused_by_name() -> None:
    why = refusal({"contention": {"saturated": {"low": [], "high": ["checkout"]}}})
    assert why is not None
    assert "load 'high' saturated checkout" in why and "--peak-node-share" in why
