import math

import numpy as np
import pytest

from retail.errors import RetailError
from retail.latency import LogHistogram, WindowedLatency


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 1.0])
def test_quantiles_within_the_relative_error(q: float) -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(np.log(0.05), 1.0, size=20_000)
    h = LogHistogram(relative_error=0.01)
    h.record(values)
    exact = float(np.quantile(values, q, method="inverted_cdf"))
    assert h.quantile(q) == pytest.approx(exact, rel=0.0101)
    assert h.count == 20_000


def test_out_of_range_values_land_in_the_end_buckets_and_empty_is_nan() -> None:
    h = LogHistogram(lowest_seconds=0.001, highest_seconds=1.0)
    assert math.isnan(h.quantile(0.5))
    h.record(np.array([0.0, 5.0]))
    assert h.quantile(0.5) == pytest.approx(0.001, rel=0.02)
    assert h.quantile(1.0) == pytest.approx(1.0, rel=0.02)


def test_merge_adds_counts_and_refuses_other_buckets() -> None:
    a, b = LogHistogram(), LogHistogram()
    a.record(0.01)
    b.record(np.array([0.02, 0.03]))
    a.merge(b)
    assert a.count == 3
    with pytest.raises(RetailError, match="same buckets"):
        a.merge(LogHistogram(lowest_seconds=1e-3))


@pytest.mark.parametrize("bad", [float("nan"), -1.0, float("inf")])
def test_bad_latencies_are_refused(bad: float) -> None:
    with pytest.raises(RetailError, match="finite"):
        LogHistogram().record(bad)


def test_windows_by_intended_time_count_errors_apart() -> None:
    w = WindowedLatency(60.0)
    w.record(10.0, 0.1, True)
    w.record(59.9, 5.0, True)  # answered late: still the first minute
    w.record(61.0, 0.2, True)
    w.record(62.0, 30.0, False)
    assert w.windows() == [0, 1]
    assert w.errors == {1: 1}
    q = w.quantiles(1.0)
    assert q[0] == pytest.approx(5.0, rel=0.02) and q[1] == pytest.approx(0.2, rel=0.02)
    assert w.total().count == 3
