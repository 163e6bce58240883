"""`edgewise manifests | controller | replay` wiring: golden deploy/ files, bad input exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.manifests import render
from edgewise.cli import main
from edgewise.controller_cmd import add_parser

REPO = Path(__file__).resolve().parents[2]


def test_deploy_dir_matches_the_renderer() -> None:
    """deploy/ is the golden copy: regenerate with `edgewise manifests --out deploy --force`."""
    for name, text in render().items():
        assert (REPO / "deploy" / name).read_text() == text, f"deploy/{name} is stale"


def test_rbac_is_least_privilege() -> None:
    docs = list(yaml.safe_load_all((REPO / "deploy/rbac.yaml").read_text()))
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    verbs = {v for r in role["rules"] for v in r["verbs"]}
    assert not verbs & {"delete", "deletecollection", "*", "escalate", "bind"}
    resources = {res for r in role["rules"] for res in r["resources"]}
    assert "secrets" not in resources and "pods" not in resources


def test_crd_has_status_subresource_and_columns() -> None:
    [crd] = list(yaml.safe_load_all((REPO / "deploy/crd.yaml").read_text()))
    v = crd["spec"]["versions"][0]
    assert v["subresources"] == {"status": {}}
    names = [c["name"] for c in v["additionalPrinterColumns"]]
    assert {"Mode", "Paused", "Desired", "Ready", "Fallback"} <= set(names)
    spec = v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["paused"] == {**spec["paused"], "type": "boolean", "default": False}
    from controller.crd import crd_manifest

    assert crd == crd_manifest(), "deploy/crd.yaml is stale: edgewise manifests --out deploy"


def test_add_parser_registers_the_subcommands() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    for cmd in ("controller", "manifests", "replay"):
        extra = {"replay": ["--scenario", "x"], "manifests": ["--out", "x"]}.get(cmd, [])
        assert callable(parser.parse_args([cmd, *extra]).func)


def test_manifests_to_a_directory(tmp_path: Path) -> None:
    assert main(["manifests", "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d/crd.yaml").exists()


@pytest.mark.parametrize(("argv", "needle"), [
    (["controller", "--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig"),
    (["replay", "--scenario", "no-such-scenario"], "no-such-scenario"),
    (["replay", "--scenario", "flash-sale", "--speed", "0"], "--speed"),
    (["controller", "--trusted-model-key", "/nonexistent/key.pub"], "--trusted-model-key"),
    (["controller", "--trusted-model-key", "README.md"], "not a PEM public key"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], needle: str) -> None:
    p = subprocess.run([sys.executable, "-m", "edgewise.cli", *argv], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip() and '"level"' not in line]
    assert len(lines) == 1 and needle in lines[0]


def test_kustomization_maps_the_image_to_the_name_build_image_prints() -> None:
    """deploy/ runs what `scripts/build-image` builds: kustomize `images:` names it exactly."""
    import subprocess

    printed = subprocess.run([str(REPO / "scripts/build-image"), "--print-name"], check=True,
                             capture_output=True, text=True).stdout.strip()
    kustomization = yaml.safe_load((REPO / "deploy/kustomization.yaml").read_text())
    [image] = kustomization["images"]
    assert f"{image['newName']}:{image['newTag']}" == printed
    assert printed.startswith("localhost/")  # fully qualified: the CRI would pull a bare name
    deployment = yaml.safe_load((REPO / "deploy/deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image["name"]
