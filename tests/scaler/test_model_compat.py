"""The env-version rule: an export trained on edgewise/Autoscale-v2 (before issue 15's twin) or
v3 (before the action stopped trimming while demand is off the forecast) still loads under v4,
with a warning that names what changed; any other version, or an older manifest claiming another env
id, is refused. The shipped default is a v4 export, so the older exports here are the default's
files under an older manifest."""

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


def test_default_policy_is_v4_and_loads_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgewise.model"):
        policy = RLPolicy.load("default")
    assert policy.manifest.env_version == ENV_VERSION == 4
    assert compatibility(policy.manifest) is None and "compatible" not in caplog.text


@pytest.mark.parametrize(("version", "says"), [(2, "before issue 15"), (3, "does not trim")])
def test_an_older_export_loads_with_a_logged_compatibility_rule(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, version: int, says: str) -> None:
    model = Path(shutil.copytree(default_model_dir(), tmp_path / f"v{version}"))
    m = json.loads((model / "manifest.json").read_text())
    (model / "manifest.json").write_text(json.dumps(
        {**m, "env_id": f"edgewise/Autoscale-v{version}", "env_version": version}))
    with caplog.at_level(logging.WARNING, logger="edgewise.model"):
        policy = RLPolicy.load(model)
    assert policy.manifest.env_version == version
    assert "loaded as compatible with version 4" in caplog.text and "retrain" in caplog.text
    why = compatibility(policy.manifest)
    assert why is not None and says in why


@pytest.mark.parametrize("edit", [{"env_version": 1}, {"env_id": "edgewise/Autoscale-v9"},
                                  {"env_version": 5}])
def test_other_versions_are_refused(tmp_path: Path, edit: dict[str, object]) -> None:
    model = Path(shutil.copytree(default_model_dir(), tmp_path / "m"))
    m = json.loads((model / "manifest.json").read_text())
    (model / "manifest.json").write_text(json.dumps({**m, **edit}))
    with pytest.raises(ManifestMismatchError, match="this code runs edgewise/Autoscale-v4"):
        RLPolicy.load(model)
    assert read_manifest(model).env_version == edit.get("env_version", 4)
