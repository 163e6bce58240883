"""Random apps for the graph-conditioned policy: valid, varied, seeded, and meetable SLOs."""

from __future__ import annotations

import numpy as np
import pytest

from envs.capacity import required_replicas
from envs.graph import ServiceGraph, load_graph
from envs.random_graph import (
    GraphSpec,
    random_app_scenario,
    random_graph,
    random_slo,
    unloaded_p95_ms,
)
from envs.randomize import RandomizationSpec
from envs.scenario import load_scenario


def test_random_graphs_cover_the_size_range_and_stay_valid() -> None:
    spec = GraphSpec()
    sizes, limits, fan_in = [], 0, 0
    for seed in range(40):
        g = random_graph(spec, np.random.default_rng(seed))
        sizes.append(len(g.services))
        assert len(g.entry_paths()) <= spec.max_paths
        assert max(len(nodes) for nodes, _ in g.entry_paths()) <= spec.max_depth + 1
        limits += sum(s.cpu_limit_millicores is None for s in g.services)
        callers = [c.callee for c in g.calls]
        fan_in += len(callers) - len(set(callers))
    assert min(sizes) >= 5 and max(sizes) <= 40 and max(sizes) - min(sizes) >= 25
    assert limits > 0 and fan_in > 0  # some pods without a CPU limit, some shared backends


def test_same_seed_same_graph() -> None:
    a = random_graph(GraphSpec(), np.random.default_rng(3))
    b = random_graph(GraphSpec(), np.random.default_rng(3))
    assert a == b


def test_random_slo_is_above_the_unloaded_p95_and_sizing_meets_it() -> None:
    spec = GraphSpec()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        sc = random_app_scenario(load_scenario("black-friday"), spec, RandomizationSpec(), rng)
        assert sc.slo.p95_latency_ms >= spec.slo_over_unloaded[0] * unloaded_p95_ms(sc.graph)
        _, run = sc.demand(0)
        need = required_replicas(sc.config(), np.array([float(np.median(run))]))[0]
        assert (need < sc.config().max_replicas).all()  # the SLO is met below the bounds


def test_hotel_reservation_is_a_different_shape_from_the_boutique() -> None:
    hotel, boutique = load_graph("hotel-reservation"), load_graph("boutique")
    assert set(hotel.names) & set(boutique.names) == {"frontend", "search"}
    depth = max(len(nodes) for nodes, _ in hotel.entry_paths())
    assert depth == 4  # frontend -> search -> rate -> memcached/mongodb; the boutique has 3
    assert all(s.cpu_limit_millicores == 10 * s.cpu_request_millicores for s in hotel.services)
    assert unloaded_p95_ms(hotel) < 100  # its scenario's SLO


# Sock Shop's CPU (millicores, request / limit): deploy/kubernetes/complete-demo.yaml for the app
# services, the helm chart's values.yaml for the stores (complete-demo gives them none).
SOCK_SHOP_CPU = {"front-end": (100, 300), "catalogue": (100, 200), "user": (100, 300),
                 "carts": (100, 300), "orders": (100, 500), "payment": (99, 200),
                 "shipping": (100, 300), "carts-db": (500, 500), "orders-db": (500, 500),
                 "catalogue-db": (100, 300), "user-db": (100, 300), "session-db": (250, 250),
                 "rabbitmq": (350, 1000)}


def test_sock_shop_is_a_third_shape() -> None:
    """The second unseen app: its cited requests and limits, an SLO it can meet, and a shape
    neither the boutique nor the hotel has: minutes-long readiness on the request path, shared
    backends (user and carts called by the front-end and by orders), mixed limit ratios."""
    sock = load_graph("sock-shop")
    boutique, hotel = load_graph("boutique"), load_graph("hotel-reservation")
    assert sock.name == "sock-shop" and sock.entry == "front-end"
    assert {s.name: (s.cpu_request_millicores, s.cpu_limit_millicores)
            for s in sock.services} == SOCK_SHOP_CPU
    assert "queue-master" not in sock.names  # consumes rabbitmq asynchronously: off the path
    sc = load_scenario("sock-shop-cyber-monday")
    assert sc.graph == sock and sc.calendar
    assert unloaded_p95_ms(sock) < sc.slo.p95_latency_ms
    assert max(len(nodes) for nodes, _ in sock.entry_paths()) == 4  # front-end -> orders -> ...

    def shared(g: ServiceGraph) -> set[str]:  # services with more than one caller
        return {n for n, callers in g.digraph().in_degree() if callers > 1}

    assert shared(sock) == {"user", "carts"}
    assert not shared(hotel)
    # readiness: every app service but the front-end needs 3-6 minutes (the Go services' 180 s
    # probe delay, the Spring Boot services' 180-360 s); the boutique has 2 such services (its
    # inference), the hotel none (its longest start-up is one minute)

    def slow(g: ServiceGraph) -> set[str]:
        return {n for n, t in zip(g.names, g.startup_ticks(60), strict=True) if t >= 3}

    assert slow(sock) == {"catalogue", "user", "carts", "orders", "payment", "shipping"}
    assert sock.startup_ticks(60).max() == 6
    assert len(slow(boutique)) == 2 and not slow(hotel)
    ratios = {s.cpu_limit_millicores / s.cpu_request_millicores for s in sock.services
              if s.cpu_limit_millicores is not None}
    assert len(ratios) >= 4  # 1x, ~2x, 3x, 5x; the hotel is all 10x, the boutique 1.5x and 2x
    _, run = sc.demand(0)
    need = required_replicas(sc.config(), np.array([float(run.max())]))[0]
    assert 10 <= need.max() < 100  # tens of replicas at the sale's peak on the busiest service


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="services"):
        GraphSpec(services=(1, 3))
    assert random_slo(random_graph(GraphSpec(services=(5, 5)), np.random.default_rng(0)),
                      GraphSpec(), np.random.default_rng(0)).p95_latency_ms >= 10
