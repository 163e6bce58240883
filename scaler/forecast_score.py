"""How good a quantile forecast is: MASE of the median, pinball loss, P90 coverage. Pure."""

from __future__ import annotations

import numpy as np


def seasonal_scale(history: np.ndarray, season: int) -> float:
    """Mean absolute error of seasonal naive inside the history: the MASE denominator."""
    y = np.asarray(history, dtype=float)
    if len(y) <= season:
        raise ValueError(f"MASE needs more than {season} points of history, has {len(y)}")
    return max(float(np.mean(np.abs(y[season:] - y[:-season]))), 1e-12)


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale)


def pinball(actual: np.ndarray, forecast: np.ndarray, tau: float) -> float:
    err = np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float)
    return float(np.mean(np.maximum(tau * err, (tau - 1.0) * err)))


def coverage(actual: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals at or below the upper quantile (0.9 is perfect for a P90)."""
    return float(np.mean(np.asarray(actual) <= np.asarray(upper)))
