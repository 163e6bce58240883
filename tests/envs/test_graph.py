"""Service graph parsing: the built-in app, and one clear error per kind of bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.errors import GraphError
from envs.graph import PriceClass, load_graph, parse_graph


def graph(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "entry": "web",
        "services": {"web": {"capacity_rps": 50}, "db": {"capacity_rps": 100, "concurrency": 2}},
        "calls": [{"from": "web", "to": "db", "fanout": 2.0}],
    }
    raw.update(over)
    return raw


def test_boutique_has_the_retail_services() -> None:
    g = load_graph("boutique")
    assert len(g.services) == 12
    for name in ("frontend", "live-inventory", "bopis-promise", "vision-inference", "payment"):
        assert name in g.names
    assert g.service("vision-inference").price_class is PriceClass.EDGE
    assert g.visit_ratios()[g.index("frontend")] == 1.0
    # catalog: 2 per page + 1 per search (0.3) + 1 per recommendation (0.5)
    assert g.visit_ratios()[g.index("product-catalog")] == pytest.approx(2.8)


def test_visit_ratios_and_service_time() -> None:
    g = parse_graph(graph())
    np.testing.assert_allclose(g.visit_ratios(), [1.0, 2.0])
    assert g.service("db").service_time_ms == pytest.approx(20.0)


BAD = [
    (
        "cycle",
        graph(calls=[{"from": "web", "to": "db"}, {"from": "db", "to": "web"}]),
        "call cycle web -> db -> web",
    ),
    (
        "unknown callee",
        graph(calls=[{"from": "web", "to": "cache"}]),
        "field 'to' names unknown service 'cache'",
    ),
    (
        "zero capacity",
        graph(services={"web": {"capacity_rps": 0}}),
        "service 'web': field 'capacity_rps' must be > 0",
    ),
    (
        "negative capacity",
        graph(services={"web": {"capacity_rps": -5}}),
        "'capacity_rps' must be > 0",
    ),
    (
        "missing capacity",
        graph(services={"web": {}}),
        "service 'web': missing field 'capacity_rps'",
    ),
    ("missing entry", {k: v for k, v in graph().items() if k != "entry"}, "missing entry point"),
    ("unknown entry", graph(entry="shop"), "field 'entry' names unknown service 'shop'"),
    (
        "unknown field",
        graph(services={"web": {"capacity_rps": 5, "cpus": 2}}),
        "unknown field 'cpus'",
    ),
    (
        "min over max",
        graph(services={"web": {"capacity_rps": 5, "min_replicas": 9, "max_replicas": 3}}),
        "'min_replicas' (9) exceeds 'max_replicas' (3)",
    ),
    ("unreachable", graph(calls=[]), "service 'db' is not reachable from entry 'web'"),
    ("not a number", graph(services={"web": {"capacity_rps": "fast"}}), "must be a number"),
    (
        "bad price class",
        graph(services={"web": {"capacity_rps": 5, "price_class": "moon"}}),
        "'price_class' must be 'edge' or 'cloud'",
    ),
]


@pytest.mark.parametrize(("raw", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_graphs_name_the_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_graph(raw)


def test_load_graph_errors(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="unknown built-in graph 'nope'"):
        load_graph("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("entry: [unclosed\n")
    with pytest.raises(GraphError, match="not valid YAML"):
        load_graph(bad)


def test_cpu_limit_sets_the_busy_cpu_and_caps_capacity() -> None:
    g = parse_graph({"entry": "web", "services": {
        "web": {"capacity_rps": 50, "cpu_request_millicores": 100, "cpu_limit_millicores": 200},
        "slow": {"capacity_rps": 50, "cpu_request_millicores": 100, "cpu_limit_millicores": 200,
                 "cpu_millicores_per_rps": 8.0},
        "free": {"capacity_rps": 50, "cpu_request_millicores": 100,
                 "cpu_millicores_per_rps": 8.0},
        "old": {"capacity_rps": 50, "cpu_request_millicores": 100},
    }, "calls": [{"from": "web", "to": n} for n in ("slow", "free", "old")]})
    web, slow, free, old = g.services
    assert web.busy_cpu_millicores == pytest.approx(200.0)  # a busy pod runs at its limit
    assert slow.capacity_rps == pytest.approx(25.0)  # 200m / 8m per request: throttled
    assert free.cpu_limit_millicores is None and free.capacity_rps == 50  # no limit: 400m
    assert free.busy_cpu_millicores / free.cpu_request_millicores == pytest.approx(4.0)
    assert old.busy_cpu_millicores == pytest.approx(90.0)  # no limit, no figure: 90% of request


def test_cpu_limit_below_request_is_refused() -> None:
    with pytest.raises(GraphError, match="'cpu_limit_millicores' .* is below"):
        parse_graph({"entry": "web", "services": {"web": {
            "capacity_rps": 5, "cpu_request_millicores": 500, "cpu_limit_millicores": 200}}})


def test_boutique_takes_online_boutique_requests_and_limits() -> None:
    g = load_graph("boutique")
    front = g.service("frontend")
    assert (front.cpu_request_millicores, front.cpu_limit_millicores) == (100, 200)
    cart = g.service("cart")
    assert (cart.cpu_request_millicores, cart.cpu_limit_millicores) == (200, 300)
