"""Train a tiny policy, export it, load it, refuse bad exports, evaluate it (needs the ml extra)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402

from edgewise import train_cmd as cli  # noqa: E402
from envs.scenario import load_scenario  # noqa: E402
from evaluation.compare import BASELINES  # noqa: E402
from scaler.errors import (  # noqa: E402
    ManifestMismatchError,
    ModelCorruptError,
    SchemaMismatchError,
)
from scaler.learned.runtime import RLPolicy  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.errors import ConfigError, RunDirectoryError  # noqa: E402
from training.export import actor_of  # noqa: E402
from training.run_directory import RUN_MARKER  # noqa: E402
from training.train import train  # noqa: E402

TINY = {"seed": 7, "total_timesteps": 512, "n_envs": 2, "scenarios": ["flash-sale"],
        "episode_ticks": 64, "eval_every_steps": 100_000, "checkpoint_every_steps": 256,
        "random_probability": 0.5,
        "ppo": {"n_steps": 128, "batch_size": 64, "n_epochs": 2, "net_arch": [16, 16]}}
TINY_SCENARIO = """name: tiny
graph: boutique
start: 2026-10-05T00:00:00
duration: 6h
history: 14d
events:
  - {name: promo, start: 2026-10-05T02:00:00, multiplier: 4, ramp: 10m, peak: 1h, decay: 10m}
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(TrainConfig(**TINY), tmp_path_factory.mktemp("run"), progress=False)


def _sb3(directory: Path) -> PPO:
    return PPO.load(directory / "model.zip", device="cpu")


def _weights(directory: Path) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in _sb3(directory).policy.parameters()]


def test_pickle_free_actor_matches_sb3_predict(model: Path) -> None:
    """The runtime's MLP actor (actor.npz version 1, no torch) acts as SB3's `predict` on the
    same export's model.zip: the very weights (bit-identical), the same output to float32
    precision. (The shipped default is the graph actor: tests/training/test_graph_policy.py.)"""
    path = model
    policy, sb3 = RLPolicy.load(path), _sb3(path)
    from_torch = actor_of(sb3, str(path))
    for (w, b, a), (w2, b2, a2) in zip(policy.actor.layers, from_torch.layers, strict=True):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
        assert a == a2 and w.dtype == np.float32
    rng = np.random.default_rng(0)
    for features in rng.normal(0.0, 2.0, (200, len(policy.manifest.observation_schema))):
        want, _ = sb3.predict(policy.normalize(features), deterministic=True)
        np.testing.assert_allclose(policy.act(features), want, rtol=0, atol=2e-6)


def test_export_has_files_and_manifest(model: Path) -> None:
    names = {p.name for p in model.iterdir()}
    assert {"model.zip", "vecnormalize.pkl", "obs_norm.npz", "actor.npz", "manifest.json"} <= names
    m = json.loads((model / "manifest.json").read_text())
    assert m["env_id"] == "edgewise/Autoscale-v4" and m["env_version"] == 4
    assert m["observation_schema"][0] == {"name": "frontend.load_over_ready_capacity",
                                          "unit": m["observation_schema"][0]["unit"]}
    assert m["training"]["seed"] == 7 and m["training"]["scenarios"] == ["flash-sale"]
    assert "violation_minutes" in m["evaluation"] and m["code_version"].startswith("edgewise")
    assert m["format"] == 2 and [x["outputs"] for x in m["actor"]["layers"]] == [16, 16, 12]
    assert (model.parent / "eval.csv").exists() and list((model.parent / "logs").iterdir())


def test_same_seed_same_weights(model: Path, tmp_path: Path) -> None:
    again = train(TrainConfig(**TINY), tmp_path / "again", progress=False)
    for a, b in zip(_weights(model), _weights(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_continues_from_checkpoint(model: Path, tmp_path: Path) -> None:
    shutil.copytree(model.parent, tmp_path / "run")
    cfg = TrainConfig(**{**TINY, "total_timesteps": 768})
    out = train(cfg, tmp_path / "run", resume=True, progress=False)
    assert json.loads((out / "manifest.json").read_text())["training"]["timesteps"] >= 768


def test_train_into_an_existing_run_is_refused_unless_force(model: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    run = Path(shutil.copytree(model.parent, tmp_path / "run"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(TINY))
    before = sorted((run / "checkpoints").iterdir())
    code = _evaluate(["train", "--config", str(cfg), "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "holds a run already" in err
    assert sorted((run / "checkpoints").iterdir()) == before
    (run / "checkpoints" / "ppo_999999999.zip").write_bytes(b"stale")
    out = train(TrainConfig(**TINY), run, force=True, progress=False)
    assert not (run / "checkpoints" / "ppo_999999999.zip").exists()
    for a, b in zip(_weights(model), _weights(out), strict=True):  # a clean run, same seed
        np.testing.assert_array_equal(a, b)


def test_resume_refuses_a_directory_without_the_marker(model: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(model.parent, tmp_path / "run"))
    (run / RUN_MARKER).unlink()
    with pytest.raises(RunDirectoryError, match="not created by edgewise train"):
        train(TrainConfig(**{**TINY, "total_timesteps": 768}), run, resume=True, progress=False)


def test_signed_export(tmp_path: Path) -> None:
    from scaler.learned.signature import load_private_key, load_public_key, write_keypair

    write_keypair(tmp_path / "k.key", tmp_path / "k.pub")
    out = train(TrainConfig(**{**TINY, "total_timesteps": 256}), tmp_path / "run",
                progress=False, signing_key=load_private_key(tmp_path / "k.key"))
    policy = RLPolicy.load(out, trusted_keys=(load_public_key(tmp_path / "k.pub"),))
    assert policy.signed_by is not None


def test_resume_refuses_checkpoints_of_another_env_version(model: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(model.parent, tmp_path / "run"))
    record = run / "checkpoints" / "env.json"
    record.write_text(json.dumps({"env_id": "edgewise/Autoscale-v1", "env_version": 1}))
    cfg = TrainConfig(**{**TINY, "total_timesteps": 768})
    with pytest.raises(ConfigError, match="edgewise/Autoscale-v1 version 1.*start a new run"):
        train(cfg, run, resume=True, progress=False)
    record.unlink()
    with pytest.raises(ConfigError, match="no checkpoints/env.json"):
        train(cfg, run, resume=True, progress=False)


def _copy(model: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model, tmp_path / "m"))


def test_corrupt_model_refused(model: Path, tmp_path: Path) -> None:
    bad = _copy(model, tmp_path)
    (bad / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(ModelCorruptError, match="checksum"):
        RLPolicy.load(bad)
    (bad / "manifest.json").write_text("{")
    with pytest.raises(ModelCorruptError, match="unreadable"):
        RLPolicy.load(bad)


def test_other_env_version_refused(model: Path, tmp_path: Path) -> None:
    bad = _copy(model, tmp_path)
    m = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**m, "env_version": 0}))
    with pytest.raises(ManifestMismatchError, match="version 0"):
        RLPolicy.load(bad)


def _wrong_schema(model: Path, tmp_path: Path) -> Path:
    bad = _copy(model, tmp_path)
    m = json.loads((bad / "manifest.json").read_text())
    m["observation_schema"][0]["name"] = "frontend.something_else"
    (bad / "manifest.json").write_text(json.dumps(m))
    return bad


def test_wrong_schema_refused(model: Path, tmp_path: Path) -> None:
    policy = RLPolicy.load(_wrong_schema(model, tmp_path))
    with pytest.raises(SchemaMismatchError, match="something_else"):
        policy.check_graph(load_scenario("flash-sale").graph)


def _evaluate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.mark.parametrize("damage", ["corrupt", "version", "schema"])
def test_evaluate_exits_2_on_bad_model(model: Path, tmp_path: Path, damage: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    if damage == "schema":
        bad = _wrong_schema(model, tmp_path)
    else:
        bad = _copy(model, tmp_path)
        m = json.loads((bad / "manifest.json").read_text())
        if damage == "corrupt":
            (bad / "obs_norm.npz").write_bytes(b"garbage")
        else:
            (bad / "manifest.json").write_text(json.dumps({**m, "env_id": "edgewise/Other-v9"}))
    code = _evaluate(["evaluate", "--model", str(bad), "--scenario", "flash-sale",
                      "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "model" in err


def test_evaluate_writes_results_with_rl(model: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY_SCENARIO)
    code = _evaluate(["evaluate", "--model", str(model), "--scenario", str(scenario),
                      "--policies", "hpa,rl,rl-raw", "--out", str(tmp_path / "out")])
    assert code == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(res["policies"]) == {"hpa", "rl", "rl-raw"}
    assert (tmp_path / "out" / "report.html").exists()


def test_rl_in_bench_when_torch_present() -> None:
    assert {"rl", "rl-raw"} <= set(BASELINES)


def test_train_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("total_timesteps: -3\n")
    code = _evaluate(["train", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 2 and "total_timesteps" in capsys.readouterr().err


def test_default_policy_ships_and_acts() -> None:
    sc = load_scenario("flash-sale")
    policy = RLPolicy.load("default")
    policy.check_graph(sc.graph)
    assert policy.manifest.training["cpu_minutes"] <= 30
    history, run = sc.demand(0)
    from evaluation.episode import run_episode

    short = type(sc)(**{**sc.__dict__, "duration_seconds": 120 * sc.tick_seconds})
    ep = run_episode(short, policy, history, run[:120], seed=0)
    assert ep.summary.replica_hours > 0
