import random
from collections import Counter

import pytest

from retail.balancer import LeastOutstanding
from retail.errors import EndpointsUnavailableError


def test_picks_the_endpoint_with_fewest_in_flight() -> None:
    b = LeastOutstanding(random.Random(0), ["a", "b", "c"])
    first = [b.acquire() for _ in range(3)]
    assert sorted(first) == ["a", "b", "c"]  # one each before any gets a second
    b.release("b")
    assert b.acquire() == "b"
    assert b.in_flight() == {"a": 1, "b": 1, "c": 1}


def test_ties_are_spread_by_the_rng() -> None:
    b = LeastOutstanding(random.Random(3), ["a", "b"])
    seen = Counter()
    for _ in range(400):
        e = b.acquire()
        seen[e] += 1
        b.release(e)
    assert 150 < seen["a"] < 250


def test_new_endpoint_set_keeps_counts_of_the_ones_that_stay() -> None:
    b = LeastOutstanding(random.Random(0), ["a", "b"])
    held = b.acquire()
    b.set_endpoints([held, "c"])
    assert b.in_flight() == {held: 1, "c": 0}
    b.release("gone")  # a request that finished on a removed endpoint
    assert b.acquire() == "c"


def test_no_endpoint_is_a_temporary_error() -> None:
    with pytest.raises(EndpointsUnavailableError, match="no ready endpoint") as e:
        LeastOutstanding(random.Random(0)).acquire()
    assert e.value.delay_seconds > 0
