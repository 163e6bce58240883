"""The HTML report's charts keep the time axis: a spike lands where it happened."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.report import MAX_POINTS, _downsample


@pytest.mark.parametrize("n", [MAX_POINTS, MAX_POINTS + 1, 10_080, 80_640])
def test_downsample_keeps_peaks_and_time_scale(n: int) -> None:
    y = np.zeros(n)
    at = int(n * 0.57)
    y[at] = 5.0
    d = _downsample(y)
    assert len(d) <= MAX_POINTS
    assert d.max() == 5.0
    assert abs(np.argmax(d) / len(d) - at / n) < 2 / len(d)
