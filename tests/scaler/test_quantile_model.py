from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from scaler.forecast_features import HourlySeries
from scaler.forecast_score import coverage, mase, pinball, seasonal_scale
from scaler.quantile_forecast import Method, QuantileForecaster, baseline_forecast
from scaler.quantile_torch import TrainingSettings, train

TINY = TrainingSettings(hidden_units=8, epochs=3, batch_size=128, members=2)


def _series(hours: int = 260) -> HourlySeries:
    rng = np.random.default_rng(0)
    h = np.arange(hours)
    y = 100 + 50 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 3, hours)
    return HourlySeries(datetime(2026, 10, 5), y)


def test_same_seed_same_weights() -> None:
    x = np.random.default_rng(0).random((300, 5)).astype(np.float32)
    y = x.sum(axis=1)
    a, b = train(x, y, TINY, seed=7), train(x, y, TINY, seed=7)
    c = train(x, y, TINY, seed=8)
    for k, v in a.weights().items():
        np.testing.assert_array_equal(v, b.weights()[k])
    assert any(not np.array_equal(v, c.weights()[k]) for k, v in a.weights().items())
    q = a.predict(x)
    assert q.shape == (300, 2) and (q[:, 1] >= q[:, 0]).all()
    # the ensemble is the mean of its members; member k is the single network of seed 7 + k
    single = replace(TINY, members=1)
    members = [train(x, y, single, seed=7 + k).predict(x) for k in range(2)]
    np.testing.assert_allclose(q, np.mean(members, axis=0), rtol=1e-6)


def test_an_ensemble_needs_a_member() -> None:
    x = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="at least 1 member"):
        train(x, np.zeros(4), replace(TINY, members=0), seed=0)


def test_forecaster_quantiles_ordered_and_nonnegative() -> None:
    f = QuantileForecaster(settings=TINY, horizon_hours=24)
    s = _series()
    f.fit(s, ())
    fc = f.forecast(s, (), 24)
    assert len(fc.p50) == 24 and (fc.p90 >= fc.p50).all() and (fc.p50 >= 0).all()
    assert fc.start == s.time(len(s))


def test_baselines() -> None:
    s = _series(400)
    sn = baseline_forecast(Method.SEASONAL_NAIVE, s, 24)
    np.testing.assert_array_equal(sn.p50, s.rps[400 - 168 : 400 - 168 + 24])
    assert (sn.p90 >= sn.p50).all()
    hw = baseline_forecast(Method.HOLT_WINTERS, s, 24)
    assert np.abs(hw.p50 - s.rps[-24:].mean()).max() < 100


@pytest.mark.parametrize(("actual", "fc", "tau", "expected"), [
    ([10.0], [8.0], 0.5, 1.0), ([10.0], [8.0], 0.9, 1.8), ([10.0], [12.0], 0.9, 0.2)])
def test_pinball(actual: list[float], fc: list[float], tau: float, expected: float) -> None:
    assert pinball(np.array(actual), np.array(fc), tau) == pytest.approx(expected)


def test_mase_and_coverage() -> None:
    hist = np.array([1.0, 2.0, 3.0, 5.0])  # season 1: mean abs diff = 4/3
    assert seasonal_scale(hist, 1) == pytest.approx(4 / 3)
    assert mase(np.array([1.0, 2.0]), np.array([2.0, 4.0]), 1.5) == pytest.approx(1.0)
    assert coverage(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 2.0, 5.0])) == 0.75


def test_torch_is_not_imported_by_the_core() -> None:
    code = ("import sys, scaler.quantile_forecast, scaler.quantile_torch, planning.plan, "
            "edgewise.plan_cmd; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
