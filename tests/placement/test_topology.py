from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from placement.errors import AppError, TopologyError
from placement.requirements import parse_app
from placement.synthetic import generate_fleet
from placement.topology import parse_topology

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

RAW: dict[str, Any] = yaml.safe_load((EXAMPLES / "fleet-small.yaml").read_text())


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "expect"), [
    (["stores", 0, "cpu_millicores"], -1, "stores[0] (store-001).cpu_millicores"),
    (["stores", 1, "wan", "availability"], 1.5, "wan.availability"),
    (["stores", 0, "wan", "rtt_ms", "mars-1"], 10, "unknown region 'mars-1'"),
    (["stores", 2, "wan", "rtt_ms", "us-west"], _DELETE, "no entry for region 'us-west'"),
    (["stores", 0, "gpus"], "two", "gpus"),
    (["stores", 1, "name"], "store-001", "duplicate name 'store-001'"),
    (["regions", 0, "vcpu_hour_usd"], 0, "regions[0] (us-east).vcpu_hour_usd"),
    (["stores", 0, "colour"], "red", "colour"),
    (["regions"], [], "regions"),
])
def test_bad_topology_names_the_field(path: list[str | int], value: Any, expect: str) -> None:
    with pytest.raises(TopologyError) as e:
        parse_topology(_with(path, value), name="fleet-small")
    assert expect in str(e.value)
    assert "\n" not in str(e.value)


def test_example_topology_parses() -> None:
    topo = parse_topology(RAW, name="fleet-small")
    assert len(topo.stores) == 5 and topo.region_names == ("us-east", "us-west")


def test_generator_is_seeded() -> None:
    a = generate_fleet(50, np.random.default_rng(11))
    b = generate_fleet(50, np.random.default_rng(11))
    c = generate_fleet(50, np.random.default_rng(12))
    assert a == b and a != c
    assert len(a.stores) == 50 and all(set(s.wan.rtt_ms) == set(a.region_names) for s in a.stores)


@pytest.mark.parametrize(("annotations", "expect"), [
    ({"placement": {"max_rtt_ms": -3}}, "placement.max_rtt_ms must be > 0"),
    ({"placement": {"pii_local": "yes"}}, "placement.pii_local must be true or false"),
    ({"placement": {"gpu": True}}, "unknown annotation placement.gpu"),
    ({"placement": 3}, "annotations.placement must be a mapping"),
])
def test_bad_annotations(annotations: dict[str, Any], expect: str) -> None:
    raw = {"entry": "a", "services": {"a": {"capacity_rps": 10, "annotations": annotations}}}
    with pytest.raises(AppError, match=expect):
        parse_app(raw)
