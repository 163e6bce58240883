from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from placement.framework import Context, Problem
from placement.plugins import default_framework
from placement.requirements import App, load_app
from placement.synthetic import generate_fleet
from placement.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def boutique() -> App:
    return load_app(EXAMPLES / "boutique-placement.yaml")


@pytest.fixture(scope="session")
def small_fleet() -> Topology:
    return load_topology(EXAMPLES / "fleet-small.yaml")


@pytest.fixture(scope="session")
def small_problem(small_fleet: Topology, boutique: App) -> Problem:
    return default_framework().build(Context(small_fleet, boutique))


@pytest.fixture(scope="session")
def fleet20() -> Topology:
    return generate_fleet(20, np.random.default_rng(3))
