from pathlib import Path

import pytest

from slo.errors import InvalidSloError
from slo.model import Objective, load_slos, parse_slo, parse_slos

GOOD = {"name": "shop-latency", "app": "shop", "objective": "latency", "threshold_ms": 400,
        "target": "99.5%", "window": "28d", "selector": {"service": "frontend"}}


def test_parses_the_example() -> None:
    slos = load_slos(Path(__file__).parents[2] / "examples/slos.yaml")
    assert [s.objective for s in slos] == [Objective.LATENCY, Objective.AVAILABILITY]
    lat = slos[0]
    assert lat.target_ratio == pytest.approx(0.995) and lat.window_days == 28
    assert lat.le == "0.4" and lat.selector == (("service", "frontend"),)
    assert lat.budget_ratio == pytest.approx(0.005)


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "Bad Name"}, "slo.name"),
    ({"objective": "speed"}, "slo.objective"),
    ({"threshold_ms": -1}, "slo.threshold_ms"),
    ({"threshold_ms": None}, "slo.threshold_ms"),
    ({"target": 1.0}, "slo.target"),
    ({"target": "abc"}, "slo.target"),
    ({"window": "13d"}, "slo.window"),
    ({"selector": {"service": 'x"} or vector(1) #'}}, "slo.selector.service"),
    ({"selector": {"le": "1"}}, "slo.selector"),
    ({"metrics": {"requests": "bad name"}}, "slo.metrics.requests"),
])
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidSloError) as e:
        parse_slo({**GOOD, **change})
    assert e.value.field == field


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(InvalidSloError, match=r"slos\[1\].name"):
        parse_slos({"slos": [GOOD, GOOD]})
    with pytest.raises(InvalidSloError, match="slos"):
        parse_slos({"slos": []})
