import numpy as np
import pytest

from retail.arrivals import Process, RateSchedule, arrival_times, constant, flash_sale
from retail.errors import RetailError


def test_cumulative_integrates_the_piecewise_linear_rate() -> None:
    s = RateSchedule((0.0, 10.0, 20.0), (0.0, 10.0, 10.0))
    assert s.cumulative(np.array([0.0, 5.0, 10.0, 20.0, 99.0])).tolist() == [
        0.0, 12.5, 50.0, 150.0, 150.0]
    assert s.rate(np.array([-1.0, 5.0, 15.0, 21.0])).tolist() == [0.0, 5.0, 10.0, 0.0]
    assert s.mean_rates(10.0).tolist() == [5.0, 10.0]


def test_constant_process_spaces_arrivals_evenly() -> None:
    t = arrival_times(constant(4.0, 10.0), Process.CONSTANT, np.random.default_rng(0))
    assert len(t) == 40
    assert np.allclose(np.diff(t), 0.25)
    assert t[0] == pytest.approx(0.125)


def test_poisson_arrivals_follow_the_schedule_and_the_seed() -> None:
    sale = flash_sale(10, 50, before_seconds=60, ramp_seconds=30, peak_seconds=60,
                      decay_seconds=30, after_seconds=60)
    a = arrival_times(sale, Process.POISSON, np.random.default_rng(7))
    b = arrival_times(sale, Process.POISSON, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert (np.diff(a) >= 0).all() and a[0] >= 0 and a[-1] <= sale.duration_seconds
    expected = float(sale.cumulative(np.array([sale.duration_seconds]))[0])
    assert abs(len(a) - expected) < 4 * np.sqrt(expected)
    # per phase: counts near the integrated rate (3 sigma)
    for lo, hi in ((0, 60), (90, 150), (180, 240)):
        n = ((a >= lo) & (a < hi)).sum()
        mean = float(np.diff(sale.cumulative(np.array([lo, hi])))[0])
        assert abs(n - mean) < 3 * np.sqrt(mean), (lo, n, mean)
    gaps = np.diff(a[(a >= 90) & (a < 150)])  # exponential at 50 rps: cv ~ 1
    assert 0.85 < gaps.std() / gaps.mean() < 1.15


@pytest.mark.parametrize("at, rate", [((0.0,), (1.0,)), ((1.0, 2.0), (1.0, 1.0)),
                                      ((0.0, 0.0), (1.0, 1.0)), ((0.0, 1.0), (1.0, -1.0)),
                                      ((0.0, float("nan")), (1.0, 1.0))])
def test_bad_schedules_are_refused(at: tuple[float, ...], rate: tuple[float, ...]) -> None:
    with pytest.raises(RetailError, match="rate schedule"):
        RateSchedule(at, rate)


def test_flash_sale_refuses_a_peak_below_base() -> None:
    with pytest.raises(RetailError, match="base_rps <= peak_rps"):
        flash_sale(10, 5, before_seconds=1, ramp_seconds=1, peak_seconds=1, decay_seconds=1,
                   after_seconds=1)
