"""Train PPO on `edgewise/Autoscale-v4` and export the policy. Adapter: imports torch and SB3.

`train(cfg, out)` builds `n_envs` seeded envs (DummyVecEnv: deterministic, and the twin is cheap
enough that one process per core buys little on a shared 2-core box) under VecNormalize, runs
PPO with a progress bar, a periodic evaluation (`eval.csv`, the training curve), checkpoints
(`checkpoints/`), SB3's CSV log (and TensorBoard when installed) in `logs/`, then exports
`model/` (training/export.py; signed when given a key). The run directory is checked first
(training/run_directory.py): a new run needs a fresh `out` (or `force=True`, which starts clean);
`resume=True` continues from the latest checkpoint of a run this tool created.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from tqdm import tqdm

from envs.action import ENV_ID, ENV_VERSION
from envs.autoscale_v2 import AutoscaleV2Env
from envs.features import observation_schema
from envs.graph_features import graph_observation_schema
from envs.scenario import Scenario, load_scenario
from scaler.learned.graph_actor import ensemble
from scaler.learned.manifest import Manifest
from training.config import PolicyKind, TrainConfig
from training.errors import ConfigError
from training.export import export
from training.graph_policy import GraphActorCriticPolicy
from training.graph_train import GraphEvaluation, build_graph_ppo, graph_env
from training.oracle_imitation import collect, fit
from training.run_directory import prepare

EVAL_SCENARIO, EVAL_OFFSET, EVAL_TICKS = "black-friday", 4 * 1440 - 60, 720


def code_version() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5, check=True)
        commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    try:
        version = metadata.version("edgewise")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    return f"edgewise {version} ({commit})"


def _env_factory(cfg: TrainConfig, scenarios: list[Scenario]) -> Callable[[], gym.Env[Any, Any]]:
    def make() -> gym.Env[Any, Any]:
        return AutoscaleV2Env(scenarios, episode_ticks=cfg.episode_ticks,
                              slo_penalty=cfg.reward.slo_penalty,
                              cost_weight=cfg.reward.cost_weight,
                              overload_weight=cfg.reward.overload_weight,
                              randomize=cfg.randomization(),
                              random_probability=cfg.random_probability)
    return make


def evaluate_env(model: BaseAlgorithm, norm: VecNormalize, env: AutoscaleV2Env) -> dict[str, float]:
    """One deterministic episode on the fixed evaluation window: reward, violations, replicas."""
    obs, _ = env.reset(seed=12345, options={"offset": EVAL_OFFSET})
    total, violated, replicas, done = 0.0, 0, 0, False
    while not done:
        action, _ = model.predict(norm.normalize_obs(obs[None]), deterministic=True)
        obs, reward, term, trunc, info = env.step(action[0])
        total, violated = total + reward, violated + int(info["violated"])
        replicas += info["replicas"]
        done = term or trunc
    minutes = env.scenario.tick_seconds / 60
    return {"reward": round(total, 3), "violation_minutes": violated * minutes,
            "replica_hours": round(replicas * minutes / 60, 1)}


Evaluator = Callable[[BaseAlgorithm], dict[str, float]]


def mlp_evaluator() -> Evaluator:
    env = AutoscaleV2Env(load_scenario(EVAL_SCENARIO), episode_ticks=EVAL_TICKS)

    def evaluate(model: BaseAlgorithm) -> dict[str, float]:
        norm = model.get_vec_normalize_env()
        assert norm is not None
        return evaluate_env(model, norm, env)

    return evaluate


class _Progress(BaseCallback):
    """Progress bar, periodic evaluation (eval.csv) and checkpoints."""

    def __init__(self, cfg: TrainConfig, out: Path, start: float, show: bool,
                 evaluator: Evaluator) -> None:
        super().__init__()
        self.cfg, self.out, self.start, self.show = cfg, out, start, show
        self.curve: list[dict[str, float]] = []
        self.best: tuple[float, dict[str, float]] = (-np.inf, {})
        self._next_eval = self._next_ckpt = 0
        self.evaluator = evaluator
        self._cpu0 = time.process_time()

    def _on_training_start(self) -> None:
        n = self.num_timesteps
        self._bar = tqdm(total=self.cfg.total_timesteps, initial=n, disable=not self.show,
                         desc="train", unit="step")
        self._next_eval = n + self.cfg.eval_every_steps
        self._next_ckpt = n + self.cfg.checkpoint_every_steps

    def _on_step(self) -> bool:
        self._bar.update(self.training_env.num_envs)
        if self.num_timesteps >= self._next_eval:
            self._next_eval += self.cfg.eval_every_steps
            self.evaluate()
        if self.num_timesteps >= self._next_ckpt:
            self._next_ckpt += self.cfg.checkpoint_every_steps
            save_checkpoint(self.model, self.out, self.num_timesteps)
        return True

    def evaluate(self) -> dict[str, float]:
        row = {"timesteps": float(self.num_timesteps),
               "minutes": round((time.monotonic() - self.start) / 60, 2),
               "cpu_minutes": round((time.process_time() - self._cpu0) / 60, 2),
               **self.evaluator(self.model)}
        self.curve.append(row)
        if row["reward"] > self.best[0]:  # keep the best evaluated policy, as EvalCallback does
            self.best = (row["reward"], dict(row))
            save_checkpoint(self.model, self.out, 0, folder="best")
        path = self.out / "eval.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        for k, v in row.items():
            self.logger.record(f"eval/{k}", v)
        return row

    def _on_training_end(self) -> None:
        self._bar.close()


def save_checkpoint(model: BaseAlgorithm, out: Path, steps: int,
                    folder: str = "checkpoints") -> None:
    ckpt = out / folder
    ckpt.mkdir(parents=True, exist_ok=True)
    model.save(ckpt / f"ppo_{steps:09d}.zip")
    norm = model.get_vec_normalize_env()
    assert norm is not None
    norm.save(str(ckpt / f"vecnormalize_{steps:09d}.pkl"))


MEMBER_SEEDS = 1000  # imitation member k collects and fits with seed cfg.seed + 1000 k
ENV_RECORD = "env.json"  # in checkpoints/: the env id and version the checkpoints act in


THIS_ENV = {"env_id": ENV_ID, "env_version": ENV_VERSION}


def _record_env(out: Path) -> None:
    ckpt = out / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / ENV_RECORD).write_text(json.dumps(THIS_ENV))


def _latest_checkpoint(out: Path) -> tuple[Path, Path] | None:
    zips = sorted((out / "checkpoints").glob("ppo_*.zip"))
    if not zips:
        return None
    record = out / "checkpoints" / ENV_RECORD
    try:
        env = json.loads(record.read_text())
    except (OSError, ValueError):
        env = {}
    if env != THIS_ENV:
        found = (f"{env.get('env_id')} version {env.get('env_version')}" if env
                 else "an older env (no checkpoints/env.json)")
        raise ConfigError(f"--resume: the checkpoints in {str(out / 'checkpoints')!r} are for "
                          f"{found}; this code trains {ENV_ID} version {ENV_VERSION}: start a "
                          "new run (another --out)")
    steps = zips[-1].stem.split("_")[1]
    return zips[-1], out / "checkpoints" / f"vecnormalize_{steps}.pkl"


def _build(cfg: TrainConfig, scenarios: list[Scenario], out: Path, resume: bool) -> PPO:
    graph = cfg.policy is PolicyKind.GRAPH
    make = (lambda: graph_env(cfg, scenarios)) if graph else _env_factory(cfg, scenarios)
    venv = DummyVecEnv([make for _ in range(cfg.n_envs)])
    venv.seed(cfg.seed)
    latest = _latest_checkpoint(out) if resume else None
    if resume and latest is None:
        raise ConfigError(f"--resume: no checkpoint in {str(out / 'checkpoints')!r}")
    if latest is not None:
        return _load(latest[0], latest[1], venv)
    _record_env(out)
    if graph:
        return build_graph_ppo(cfg, venv)
    norm = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=cfg.ppo.gamma)
    p = cfg.ppo
    return PPO("MlpPolicy", norm, learning_rate=p.learning_rate, n_steps=p.n_steps,
               batch_size=p.batch_size, n_epochs=p.n_epochs, gamma=p.gamma,
               gae_lambda=p.gae_lambda, ent_coef=p.ent_coef, clip_range=p.clip_range,
               policy_kwargs={"net_arch": list(p.net_arch), "log_std_init": p.log_std_init},
               seed=cfg.seed, device="cpu", verbose=0)


def train(cfg: TrainConfig, out: Path, *, resume: bool = False, force: bool = False,
          progress: bool = True, signing_key: Ed25519PrivateKey | None = None) -> Path:
    """Train, export to `out/model` (signed with `signing_key`), and return that directory."""
    prepare(out, resume=resume, force=force)
    cpu_start = time.process_time()  # the whole run's CPU: envs, warm start, PPO, evaluations
    torch.set_num_threads(1)
    set_random_seed(cfg.seed)
    scenarios = cfg.training_scenarios()
    model = _build(cfg, scenarios, out, resume)
    formats = ["csv"] + (["tensorboard"] if importlib.util.find_spec("tensorboard") else [])
    model.set_logger(configure(str(out / "logs"), formats))
    start = time.monotonic()
    graph = cfg.policy is PolicyKind.GRAPH
    cb = _Progress(cfg, out, start, progress, GraphEvaluation(cfg) if graph else mlp_evaluator())
    imitation: dict[str, Any] = {}
    if graph and cfg.imitation.episodes > 0 and not resume:
        imitation = warm_start(cfg, scenarios, model)
        cb.init_callback(model)
        cb.evaluate()  # the warm start alone is a candidate for the export
    remaining = max(cfg.total_timesteps - model.num_timesteps, 0)
    if remaining > 0 or not cb.curve:  # total_timesteps 0: the warm start is the export
        model.learn(remaining, callback=cb, reset_num_timesteps=not resume)
        cb.evaluate()
    minutes = (time.monotonic() - start) / 60
    cpu_minutes = (time.process_time() - cpu_start) / 60
    save_checkpoint(model, out, model.num_timesteps)
    best = _load(out / "best" / "ppo_000000000.zip", out / "best" / "vecnormalize_000000000.pkl",
                 model.get_env())
    best.num_timesteps = model.num_timesteps
    chosen = {**cb.best[1], "selected": "best evaluation reward so far"}
    if isinstance(cb.evaluator, GraphEvaluation):
        chosen["base_alone"] = cb.evaluator.base
    if imitation:
        chosen["imitation"] = imitation
    manifest = build_manifest(best, out, cfg, scenarios, (minutes, cpu_minutes), chosen)
    return export(best, out / "model", manifest, signing_key)


def warm_start(cfg: TrainConfig, scenarios: list[Scenario], model: PPO) -> dict[str, Any]:
    """Fit the graph actor to the oracle's headroom (training/oracle_imitation.py); with
    `imitation.members` > 1, fit that many narrower networks, member k on the episodes of seed
    `cfg.seed + MEMBER_SEEDS * k`, and start from their mean (`graph_actor.ensemble`)."""
    im = cfg.imitation
    c0 = time.process_time()
    policy = model.policy
    assert isinstance(policy, GraphActorCriticPolicy)
    members, samples, losses = [], 0, []
    for k in range(im.members):
        seed = cfg.seed + MEMBER_SEEDS * k
        data = collect(cfg.model_copy(update={"seed": seed}), scenarios, im.episodes,
                       ticks=im.ticks, noise=im.noise, margins=(im.margin_up, im.margin_down))
        member = policy if im.members == 1 else GraphActorCriticPolicy(
            policy.observation_space, policy.action_space, lambda _: cfg.ppo.learning_rate,
            hidden=cfg.ppo.hidden // im.members, rounds=cfg.ppo.rounds)
        losses.append(fit(member, data, tau=im.tau, epochs=im.epochs, seed=seed,
                          learning_rate=im.learning_rate, loss=im.loss, trim_tau=im.trim_tau))
        if im.members > 1:
            members.append(member.numpy_actor())
        samples += len(data.obs)
    if im.members > 1:
        policy.load_actor(ensemble(members))
    return {"samples": samples, "members": im.members, "tau": im.tau, "trim_tau": im.trim_tau,
            "loss": im.loss, "margins": [im.margin_up, im.margin_down],
            "losses": [round(float(x), 5) for x in np.mean(losses, axis=0)],  # members' mean
            "cpu_minutes": round((time.process_time() - c0) / 60, 2)}


def _load(zip_path: Path, norm_path: Path, env: Any) -> PPO:
    venv = env.venv if isinstance(env, VecNormalize) else env
    norm = VecNormalize.load(str(norm_path), venv)
    return PPO.load(zip_path, env=norm, device="cpu")


def build_manifest(model: BaseAlgorithm, out: Path, cfg: TrainConfig, scenarios: list[Scenario],
                   minutes: tuple[float, float], evaluation: dict[str, Any]) -> Manifest:
    """`minutes`: (wall clock, CPU time of this process) spent in PPO's learn."""
    graph = scenarios[0].graph
    n = len(graph.services)
    curve = _read_curve(out / "eval.csv")
    meaning = "log2 multiplier on the base sizing, per service"
    if cfg.policy is PolicyKind.GRAPH:
        schema = graph_observation_schema()
        space: dict[str, Any] = {"low": -1.0, "high": 1.0, "shape": ["services"],
                                 "meaning": meaning + " (one shared network, any app)"}
    else:
        schema = observation_schema(graph)
        space = {"low": -1.0, "high": 1.0, "shape": [n], "meaning": meaning}
    return Manifest(
        env_id=ENV_ID, env_version=ENV_VERSION, observation_schema=schema, action_space=space,
        graph=graph.name, services=list(graph.names),
        training={"scenarios": [s.name for s in scenarios], "seed": cfg.seed,
                  "env_seeds": [cfg.seed + i for i in range(cfg.n_envs)],
                  "random_probability": cfg.random_probability,
                  "randomize": cfg.randomization().__dict__, "timesteps": int(model.num_timesteps),
                  "minutes": round(minutes[0], 2), "cpu_minutes": round(minutes[1], 2),
                  "policy": cfg.policy.value, "config": cfg.model_dump(exclude={"base_dir"},
                                                                       mode="json"),
                  "curve": curve},
        code_version=code_version(),
        evaluation={"window": f"{EVAL_SCENARIO} offset {EVAL_OFFSET} ticks {EVAL_TICKS}",
                    **evaluation},
    )


def _read_curve(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
