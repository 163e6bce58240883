"""Random apps for the graph-conditioned policy: valid, varied, seeded, and meetable SLOs."""

from __future__ import annotations

import numpy as np
import pytest

from envs.capacity import required_replicas
from envs.graph import load_graph
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


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="services"):
        GraphSpec(services=(1, 3))
    assert random_slo(random_graph(GraphSpec(services=(5, 5)), np.random.default_rng(0)),
                      GraphSpec(), np.random.default_rng(0)).p95_latency_ms >= 10
