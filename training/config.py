"""Training config: a YAML file parsed once, here, into a frozen pydantic model.

```yaml
seed: 0
total_timesteps: 300000
n_envs: 2
scenarios: [black-friday, flash-sale, holiday-season, normal-week]  # built-in names or YAML files
trace: null            # your own history: a CSV (envs/trace.py) replayed on scenarios[0]'s graph
prometheus: null       # or a Prometheus range-query export (JSON of /api/v1/query_range)
random_probability: 0.6   # share of episodes on randomized scenarios (envs/randomize.py)
randomize: {max_events: 2, announced_probability: 0.7}   # any RandomizationSpec field
episode_ticks: 1440
eval_every_steps: 25000
checkpoint_every_steps: 50000
reward: {slo_penalty: 1.0, cost_weight: 0.3, overload_weight: 0.2}
ppo: {learning_rate: 0.0003, n_steps: 1024, batch_size: 256, n_epochs: 5, gamma: 0.98,
      net_arch: [64, 64], log_std_init: -1.5}
policy: mlp            # or graph: one network shared by every service (ppo.hidden, ppo.rounds)
graph_probability: 0.0 # policy graph: share of episodes on random apps (envs/random_graph.py)
graph: {services: [5, 40]}   # any GraphSpec field
imitation: {episodes: 0, tau: 0.85, epochs: 8}   # policy graph: oracle warm start before PPO
# (also loss: pinball|expectile, margin_up, margin_down; training/oracle_imitation.py;
# members: N fits N networks of ppo.hidden / N units, each on its own data, and starts from
# their mean); total_timesteps: 0 with a warm start exports the fit alone (no PPO)
```
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envs.errors import EnvError
from envs.random_graph import GraphSpec
from envs.randomize import RandomizationSpec
from envs.scenario import Scenario, load_scenario
from envs.textfile import describe_yaml_error, read_text
from envs.trace import TraceAlign, load_trace
from training.errors import ConfigError


class RewardConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    slo_penalty: float = 1.0
    cost_weight: float = 0.3
    overload_weight: float = 0.2


class PpoConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    learning_rate: float = 3e-4
    n_steps: int = Field(default=1024, ge=8)
    batch_size: int = Field(default=256, ge=8)
    n_epochs: int = Field(default=5, ge=1)
    gamma: float = Field(default=0.98, gt=0, le=1)
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    clip_range: float = 0.2
    net_arch: tuple[int, ...] = (64, 64)  # policy: mlp
    hidden: int = Field(default=64, ge=1, le=1024)  # policy: graph, width of the shared layers
    rounds: int = Field(default=2, ge=0, le=8)  # policy: graph, message-passing rounds
    log_std_init: float = -1.5


class ImitationConfig(BaseModel):
    """policy: graph: the warm start fitted to the oracle before PPO (training/oracle_imitation.py);
    `episodes: 0` skips it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    episodes: int = Field(default=0, ge=0, le=10_000)
    ticks: int = Field(default=720, ge=2)
    tau: float = Field(default=0.85, gt=0, lt=1)
    # the quantile/expectile for service-ticks whose target is not a raise (None: tau): a high
    # tau keeps a ramp's raise, a lower one here lets the fit trim where the oracle does
    trim_tau: float | None = Field(default=None, gt=0, lt=1)
    epochs: int = Field(default=8, ge=1)
    noise: float = Field(default=0.3, ge=0, le=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    loss: Literal["pinball", "expectile"] = "pinball"
    margin_up: float = Field(default=0.0, ge=0, le=1)  # raise the base to the oracle at +margin
    margin_down: float = Field(default=0.0, ge=0, le=4)  # trim it to the oracle at +margin
    # an ensemble: `members` networks of ppo.hidden / members units, each fitted on its own
    # episodes (seeds apart), merged into one network whose action is their mean
    members: int = Field(default=1, ge=1, le=8)

    @model_validator(mode="after")
    def _band(self) -> ImitationConfig:
        if self.margin_down < self.margin_up:
            raise ValueError("margin_down must be >= margin_up (the band the target leaves alone)")
        return self


class PolicyKind(StrEnum):
    """`mlp`: one network per app (its services' features in a fixed order); `graph`: one
    network shared by every service, over the call graph (training/graph_policy.py)."""

    MLP = "mlp"
    GRAPH = "graph"


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    seed: int = 0
    policy: PolicyKind = PolicyKind.MLP
    total_timesteps: int = Field(default=300_000, ge=0)  # 0: the warm start alone
    n_envs: int = Field(default=2, ge=1, le=64)
    scenarios: tuple[str, ...] = ("black-friday", "flash-sale", "holiday-season", "normal-week")
    trace: str | None = None
    prometheus: str | None = None
    random_probability: float = Field(default=0.6, ge=0, le=1)
    randomize: dict[str, Any] = Field(default_factory=dict)
    graph_probability: float = Field(default=0.0, ge=0, le=1)  # share of random apps (graph)
    graph: dict[str, Any] = Field(default_factory=dict)  # any envs.random_graph.GraphSpec field
    imitation: ImitationConfig = Field(default_factory=lambda: ImitationConfig())
    episode_ticks: int = Field(default=1440, ge=2)
    eval_every_steps: int = Field(default=25_000, ge=1)
    checkpoint_every_steps: int = Field(default=50_000, ge=1)
    reward: RewardConfig = Field(default_factory=lambda: RewardConfig())
    ppo: PpoConfig = Field(default_factory=lambda: PpoConfig())
    base_dir: str = "."

    @model_validator(mode="after")
    def _something_to_train(self) -> TrainConfig:
        if self.total_timesteps == 0 and not (self.policy is PolicyKind.GRAPH
                                              and self.imitation.episodes > 0):
            raise ValueError("total_timesteps 0 (no PPO) needs policy: graph and an imitation "
                             "warm start (imitation.episodes > 0)")
        if self.ppo.hidden % self.imitation.members:
            raise ValueError(f"imitation.members {self.imitation.members} must divide "
                             f"ppo.hidden {self.ppo.hidden} (each member is hidden / members "
                             "units wide)")
        return self

    def randomization(self) -> RandomizationSpec:
        try:
            return RandomizationSpec(**self.randomize)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"training config: randomize: {e}") from e

    def graph_spec(self) -> GraphSpec:
        try:
            raw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                   for k, v in self.graph.items()}
            return GraphSpec(**raw)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"training config: graph: {e}") from e

    def _path(self, raw: str) -> Path:
        p = Path(raw)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def training_scenarios(self) -> list[Scenario]:
        """The scenarios, with the user's history (trace or Prometheus export) if given."""
        try:
            scenarios = [load_scenario(self._path(s) if s.endswith((".yaml", ".yml")) else s)
                         for s in self.scenarios]
            if self.trace or self.prometheus:
                scenarios = [self._with_history(scenarios[0])]
        except EnvError as e:
            raise ConfigError(f"training config: {e}") from e
        return scenarios

    def _with_history(self, sc: Scenario) -> Scenario:
        first = sc.start - timedelta(seconds=sc.history_seconds)
        ticks = sc.history_ticks + sc.ticks
        if self.prometheus:
            rps = prometheus_rates(self._path(self.prometheus), first, ticks, sc.tick_seconds)
        else:
            rps = load_trace(self._path(str(self.trace)), first, ticks, sc.tick_seconds,
                             align=TraceAlign.START)  # replayed at the training dates
        return replace(sc, name=f"{sc.name}-user-history", trace_rps=rps)


def prometheus_rates(path: Path, first: datetime, ticks: int, tick_seconds: int) -> np.ndarray:
    """Entry rate per tick from a Prometheus range-query export (the sum of its series),
    replayed from `first` like a CSV trace (each tick takes the last sample at or before it)."""
    try:
        raw = json.loads(path.read_text())
        series = raw["data"]["result"] if "data" in raw else raw["result"]
        points: dict[float, float] = {}
        for s in series:
            for ts, value in s["values"]:
                points[float(ts)] = points.get(float(ts), 0.0) + float(value)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"prometheus export {str(path)!r}: expected the JSON of "
                          f"/api/v1/query_range ({e})") from e
    if not points:
        raise ConfigError(f"prometheus export {str(path)!r}: no samples")
    ts = np.array(sorted(points))
    values = np.array([points[t] for t in ts])
    grid = ts[0] + np.arange(ticks) * tick_seconds
    if grid[-1] > ts[-1] + tick_seconds:
        have = (ts[-1] - ts[0]) / 86_400
        raise ConfigError(f"prometheus export {str(path)!r}: covers {have:.1f} days; the scenario "
                          f"needs {ticks * tick_seconds / 86_400:.1f} (history + run)")
    rates: np.ndarray = values[np.searchsorted(ts, grid, side="right") - 1]
    return rates


def load_config(path: str | Path) -> TrainConfig:
    p = Path(path)
    text = read_text(p, "training config", ConfigError)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(
            f"training config {str(p)!r}: not valid YAML ({describe_yaml_error(e)})") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"training config {str(p)!r}: expected a mapping")
    try:
        cfg = TrainConfig(**raw, base_dir=str(p.parent))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"training config {str(p)!r}: field {where!r}: {err['msg']}") from None
    cfg.randomization()
    cfg.graph_spec()
    return cfg
