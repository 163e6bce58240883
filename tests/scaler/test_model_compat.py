"""The env-version rule: an export trained on edgewise/Autoscale-v2 (before issue 15's twin)
still loads under v3, with a warning that names what changed; any other version, or a v2
manifest claiming another env id, is refused. The shipped default is a v3 export (retrained in
issue 15, part 4), so the v2 export here is the default's files under a v2 manifest."""

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


def test_default_policy_is_v3_and_loads_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgewise.model"):
        policy = RLPolicy.load("default")
    assert policy.manifest.env_version == ENV_VERSION == 3
    assert compatibility(policy.manifest) is None and "compatible" not in caplog.text


def test_a_v2_export_loads_with_a_logged_compatibility_rule(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = Path(shutil.copytree(default_model_dir(), tmp_path / "v2"))
    m = json.loads((model / "manifest.json").read_text())
    (model / "manifest.json").write_text(json.dumps(
        {**m, "env_id": "edgewise/Autoscale-v2", "env_version": 2}))
    with caplog.at_level(logging.WARNING, logger="edgewise.model"):
        policy = RLPolicy.load(model)
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
    assert read_manifest(model).env_version == edit.get("env_version", 3)
