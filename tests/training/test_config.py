"""Training config parsing and the user's own history (pure: no torch needed)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from scaler.learned.manifest import read_manifest
from scaler.learned.runtime import default_model_dir
from training.config import load_config, prometheus_rates
from training.default_policy import DEFAULT_CONFIG
from training.errors import ConfigError


@pytest.mark.parametrize(("text", "match"), [
    ("total_timesteps: 0\n", "total_timesteps"),
    ("n_envs: 1\nwhat: 3\n", "what"),
    ("randomize: {max_events: -1}\n", "randomize"),
    ("ppo: {gamma: 2}\n", "ppo.gamma"),
    ("- a list\n", "mapping"),
    ("policy: graph\nppo: {hidden: 32}\nimitation: {members: 3}\n", "must divide ppo.hidden"),
])
def test_bad_config_names_the_field(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_no_ppo_needs_a_warm_start(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("policy: graph\ntotal_timesteps: 0\nimitation: {episodes: 4}\n")
    assert load_config(p).total_timesteps == 0
    p.write_text("policy: mlp\ntotal_timesteps: 0\nimitation: {episodes: 4}\n")
    with pytest.raises(ConfigError, match="imitation warm start"):
        load_config(p)


@pytest.mark.parametrize("path", sorted(
    (Path(__file__).resolve().parents[2] / "training" / "data").glob("*.yaml")))
def test_shipped_configs_parse(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.policy.value == "graph" and cfg.training_scenarios()


def _export(path: Path, start: float, n: int, step: float, values: list[float]) -> None:
    series = [{"metric": {"pod": f"p{i}"},
               "values": [[start + k * step, str(v)] for k in range(n)]}
              for i, v in enumerate(values)]
    path.write_text(json.dumps({"status": "success",
                                "data": {"resultType": "matrix", "result": series}}))


def test_prometheus_export_sums_series_onto_ticks(tmp_path: Path) -> None:
    p = tmp_path / "prom.json"
    _export(p, 1_700_000_000, 120, 30, [10.0, 5.5])
    rps = prometheus_rates(p, datetime(2026, 1, 1), 50, 60)
    np.testing.assert_allclose(rps, np.full(50, 15.5))


def test_prometheus_export_too_short_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "prom.json"
    _export(p, 0, 10, 60, [1.0])
    with pytest.raises(ConfigError, match="covers"):
        prometheus_rates(p, datetime(2026, 1, 1), 100, 60)


def test_config_with_trace_replays_user_history(tmp_path: Path) -> None:
    ticks = (14 + 7) * 1440 + 10
    lines = ["timestamp,rate"] + [f"{1_700_000_000 + 60 * k},{100 + k % 7}" for k in range(ticks)]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("scenarios: [black-friday]\ntrace: mine.csv\n")
    [sc] = load_config(cfg_path).training_scenarios()
    history, run = sc.demand(0)
    assert sc.name.endswith("user-history") and run[0] == 100 + (14 * 1440) % 7


def test_the_shipped_default_was_trained_with_the_shipped_config() -> None:
    """`edgewise train --config training/data/default-train.yaml --install-default` is what
    reproduces the default: its manifest records that very config."""
    shipped = read_manifest(default_model_dir()).training["config"]
    assert load_config(DEFAULT_CONFIG).model_dump(exclude={"base_dir"}, mode="json") == shipped
