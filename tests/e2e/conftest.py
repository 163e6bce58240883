"""Session fixtures of the controller e2e suite: one control plane, one Prometheus, the CRD."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.k8slab import ControlPlane, Prometheus, free_port, wait_for


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("controller e2e needs root (apt-get for the control-plane build)")


@pytest.fixture(scope="session")
def e2e_dir() -> Iterator[Path]:
    """Logs of every process; set EDGEWISE_E2E_DIR to keep them after the run."""
    keep = os.environ.get("EDGEWISE_E2E_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix="run-", dir=keep))
        return
    with tempfile.TemporaryDirectory(prefix="edgewise-e2e-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def control_plane(e2e_dir: Path) -> Iterator[ControlPlane]:
    _need_root()
    cp = ControlPlane(e2e_dir / "k8s")
    try:
        yield cp.start()
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane):  # type: ignore[no-untyped-def]
    from kubernetes import client

    from controller.kube import api_client

    api = api_client(str(control_plane.kubeconfig))
    core = client.CoreV1Api(api)
    wait_for(lambda: core.read_namespaced_service_account("default", "default") is not None,
             60, "the default ServiceAccount")
    return api


@pytest.fixture(scope="session")
def crd(kube):  # type: ignore[no-untyped-def]
    from kubernetes import client

    from controller.crd import crd_manifest

    ext = client.ApiextensionsV1Api(kube)
    ext.create_custom_resource_definition(crd_manifest())

    def established() -> bool:
        obj = ext.read_custom_resource_definition("predictivescalers.edgewise.io")
        return any(c.type == "Established" and c.status == "True"
                   for c in obj.status.conditions or [])

    wait_for(established, 30, "the CRD to be Established")
    time.sleep(1)
    return kube


REPLAY_PORTS = 24  # one per e2e world of a session (the controller, history, node modules: 11)


@pytest.fixture(scope="session")
def replay_ports() -> list[int]:
    """Ports for the worlds' replay exporters, known up front: Prometheus scrapes them as static
    targets (a port no world has taken yet is a target that is down)."""
    return [free_port() for _ in range(REPLAY_PORTS)]


@pytest.fixture(scope="session")
def prometheus(e2e_dir: Path, replay_ports: list[int], control_plane: ControlPlane
               ) -> Iterator[Prometheus]:
    prom = Prometheus(e2e_dir / "prometheus", [f"127.0.0.1:{p}" for p in replay_ports])
    try:
        yield prom.start()
    finally:
        prom.stop()


@pytest.fixture
def make_world(crd, control_plane: ControlPlane, prometheus: Prometheus,  # type: ignore[no-untyped-def]
               replay_ports: list[int], e2e_dir: Path) -> Iterator[Callable[..., object]]:
    from bench.k8slab import PodReadier
    from tests.e2e.world import World

    made: list[tuple[World, PodReadier]] = []

    def make(namespace: str) -> World:
        w = World(crd, control_plane.kubeconfig, e2e_dir / namespace, namespace,
                  replay_ports.pop(), prometheus.url)
        made.append((w, PodReadier(w.core, namespace).start()))
        return w

    yield make
    for w, readier in made:
        w.stop()
        readier.stop()
