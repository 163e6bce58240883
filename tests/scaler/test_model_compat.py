"""The env-version rule: the shipped default policy (trained on edgewise/Autoscale-v2, before
issue 15's twin) still loads under v3, with a warning that names what changed; any other
version, or a v2 manifest claiming another env id, is refused."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from envs.action import ENV_VERSION
from scaler.errors import ManifestMismatchError
from scaler.learned.manifest import compatibility, read_manifest
from scaler.learned.runtime import RLPolicy, default_model_dir


def test_default_policy_of_v2_loads_with_a_logged_compatibility_rule(
        caplog: pytest.LogCaptureFixture) -> None:
    assert ENV_VERSION == 3
    with caplog.at_level(logging.WARNING, logger="edgewise.model"):
        policy = RLPolicy.load("default")
    assert policy.manifest.env_version == 2
    assert "loaded as compatible with version 3" in caplog.text and "retrain" in caplog.text
    why = compatibility(policy.manifest)
    assert why is not None and "before issue 15" in why


@pytest.mark.parametrize("edit", [{"env_version": 1}, {"env_id": "edgewise/Autoscale-v9"},
                                  {"env_version": 4}])
def test_other_versions_are_refused(tmp_path: Path, edit: dict[str, object]) -> None:
    model = Path(shutil.copytree(default_model_dir(), tmp_path / "m"))
    m = json.loads((model / "manifest.json").read_text())
    (model / "manifest.json").write_text(json.dumps({**m, **edit}))
    with pytest.raises(ManifestMismatchError, match="this code runs edgewise/Autoscale-v3"):
        RLPolicy.load(model)
    assert read_manifest(model).env_version == edit.get("env_version", 2)
