import math

import pytest

from slo.budget import AlertState, alert_state, budget, error_ratio

ALL = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@pytest.mark.parametrize(("bad", "target", "attainment", "remaining", "burn"), [
    (0.0, 0.995, 1.0, 1.0, 0.0),
    (0.005, 0.995, 0.995, 0.0, 1.0),
    (0.0025, 0.995, 0.9975, 0.5, 0.5),
    (0.01, 0.999, 0.99, -9.0, 10.0),
])
def test_budget_math(bad: float, target: float, attainment: float, remaining: float,
                     burn: float) -> None:
    b = budget(bad, target)
    assert b.attainment_ratio == pytest.approx(attainment)
    assert b.budget_remaining_ratio == pytest.approx(remaining)
    assert b.burn_rate == pytest.approx(burn)


def _flat(ratio: float) -> dict[str, float | None]:
    return dict.fromkeys(ALL, ratio)


@pytest.mark.parametrize(("ratios", "state"), [
    (_flat(0.0), AlertState.OK),
    (_flat(0.005 * 14.5), AlertState.PAGE),             # 1h/5m at 14.4x
    (_flat(0.005 * 7), AlertState.PAGE),                # 6h/30m at 6x
    (_flat(0.005 * 4), AlertState.TICKET),              # 1d/2h at 3x
    (_flat(0.005 * 1.5), AlertState.TICKET),            # 3d/6h at 1x
    ({**_flat(0.0), "1h": 0.5}, AlertState.OK),         # the short window has recovered
    ({**_flat(0.005 * 20), "5m": 0.0, "30m": 0.0}, AlertState.TICKET),
    (dict.fromkeys(ALL, None), AlertState.UNKNOWN),
    (dict.fromkeys(ALL, math.nan), AlertState.UNKNOWN),
])
def test_alert_state(ratios: dict[str, float | None], state: AlertState) -> None:
    assert alert_state(ratios, 0.995) is state


def test_error_ratio_without_traffic_is_undefined() -> None:
    assert math.isnan(error_ratio(0, 0))
    assert error_ratio(1, 4) == 0.25


def test_budget_refuses_a_target_of_one() -> None:
    with pytest.raises(ValueError, match="target"):
        budget(0.0, 1.0)
