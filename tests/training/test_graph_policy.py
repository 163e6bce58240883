"""The graph actor-critic: torch and the numpy runtime agree; padding never reaches the gradient."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from envs.autoscale_graph import AutoscaleGraphEnv  # noqa: E402
from envs.graph_features import MAX_SERVICES, unpack  # noqa: E402
from envs.randomize import RandomizationSpec  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.graph_train import build_graph_ppo, graph_venv  # noqa: E402

CFG = {"policy": "graph", "n_envs": 2, "scenarios": ["flash-sale"], "episode_ticks": 16,
       "graph_probability": 0.5, "ppo": {"n_steps": 16, "batch_size": 16, "n_epochs": 1,
                                         "hidden": 16, "rounds": 2}}


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    cfg = TrainConfig(**CFG)
    m = build_graph_ppo(cfg, graph_venv(cfg, cfg.training_scenarios()))
    with torch.no_grad():  # move off the near-zero initial head so the comparison means something
        for p in m.policy.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m


def _obs(seed: int) -> np.ndarray:
    env = AutoscaleGraphEnv("black-friday", episode_ticks=4, randomize=RandomizationSpec(),
                            graph_probability=1.0)
    obs, _ = env.reset(seed=seed)
    return obs


def test_numpy_runtime_computes_the_torch_actor(model) -> None:  # type: ignore[no-untyped-def]
    actor = model.policy.numpy_actor()
    for seed in range(3):
        obs = _obs(seed)
        f = unpack(obs)
        n = len(f.services)
        want = model.policy.mlp_extractor.forward_actor(torch.as_tensor(obs[None]))[0]
        assert np.allclose(actor(f.services, f.app, f.callers), want.detach().numpy()[:n],
                           atol=1e-5)
        assert np.all(want.detach().numpy()[n:] == 0)
        action, _ = model.predict(obs[None], deterministic=True)
        assert np.allclose(np.clip(actor(f.services, f.app, f.callers), -1, 1), action[0][:n],
                           atol=1e-5)


def test_padding_actions_do_not_change_the_likelihood(model) -> None:  # type: ignore[no-untyped-def]
    obs = torch.as_tensor(_obs(1)[None])
    n = len(unpack(obs[0].numpy()).services)
    a = torch.zeros(1, MAX_SERVICES)
    b = a.clone()
    b[0, n:] = 0.9
    _, lp_a, ent_a = model.policy.evaluate_actions(obs, a)
    _, lp_b, ent_b = model.policy.evaluate_actions(obs, b)
    assert torch.allclose(lp_a, lp_b) and torch.allclose(ent_a, ent_b)
    c = a.clone()
    c[0, 0] = 0.9
    assert not torch.allclose(model.policy.evaluate_actions(obs, c)[1], lp_a)


def test_it_learns_a_few_steps(model) -> None:  # type: ignore[no-untyped-def]
    model.learn(32)
    assert model.num_timesteps >= 32


TINY_GRAPH = {**CFG, "seed": 3, "total_timesteps": 64, "eval_every_steps": 32,
              "checkpoint_every_steps": 64}


@pytest.mark.slow
def test_train_export_load_and_decide_on_an_unseen_app(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from envs.scenario import load_scenario
    from scaler.learned.runtime import RLPolicy
    from scaler.policy import PolicyContext
    from training.train import train

    out = train(TrainConfig(**TINY_GRAPH), tmp_path / "run", progress=False)
    policy = RLPolicy.load(out)
    assert policy.is_graph and policy.manifest.actor["version"] == 2
    training = policy.manifest.training
    assert training["policy"] == "graph" and training["cpu_minutes"] > 0
    assert "base_alone" in policy.manifest.evaluation
    # the boutique, and the two graphs never trained on
    for name in ("flash-sale", "hotel-travel-sale", "sock-shop-cyber-monday"):
        sc = load_scenario(name)
        history, run = sc.demand(0)
        p = policy.clone()
        p.reset(PolicyContext(sc.graph, sc.tick_seconds, sc.slo, sc.start, history, sc.calendar,
                              np.random.default_rng(0)))
        from envs.twin import Twin

        twin = Twin(sc.config(), run[:3], sc.start)
        desired = p.decide(twin.observe())
        assert desired.shape == (len(sc.graph.services),) and (desired >= 0).all()


def test_oracle_imitation_targets_and_fit() -> None:
    from envs.graph_features import PACKED_SIZE
    from training.oracle_imitation import collect, fit

    cfg = TrainConfig(**{**CFG, "graph_probability": 1.0})
    data = collect(cfg, cfg.training_scenarios(), 2, ticks=30)
    assert data.obs.shape == (60, PACKED_SIZE) and data.target.shape == (60, MAX_SERVICES)
    n = [len(unpack(o).services) for o in data.obs]
    for row, k in zip(data.target, n, strict=True):
        assert np.all(row[k:] == 0) and np.all(np.abs(row[:k]) <= 1)
    m = build_graph_ppo(cfg, graph_venv(cfg, cfg.training_scenarios()))
    losses = fit(m.policy, data, tau=0.5, epochs=6, batch_size=16, learning_rate=3e-3)
    assert losses[-1] < losses[0]
    losses = fit(m.policy, data, tau=0.5, epochs=6, batch_size=16, learning_rate=3e-3,
                 loss="expectile")
    assert losses[-1] < losses[0]


def test_imitation_never_trims_while_demand_is_off_the_forecast() -> None:
    """The target agrees with the env's action: no trim while demand is off the forecast."""
    from envs.entry_forecast import SURPRISE_LIMIT
    from envs.graph_features import APP_SCHEMA, MAX_SERVICES, SERVICE_FEATURES
    from tests.support.surge import TICKS, surge_scenario
    from training.oracle_imitation import collect

    cfg = TrainConfig(**{**CFG, "graph_probability": 0.0, "random_probability": 0.0,
                         "imitation": {"margin_down": 0.1}})
    data = collect(cfg, [surge_scenario()], 1, ticks=TICKS, margins=(0.0, 0.1))
    growth = [n for n, _ in APP_SCHEMA].index("log2_surprise_growth_15")
    at = MAX_SERVICES * SERVICE_FEATURES + growth
    off = np.abs(data.obs[:, at] * np.log(2)) > SURPRISE_LIMIT
    assert off.sum() >= 5 and (data.target[off] >= 0).all()
    assert (data.target[~off] < 0).any()  # it trims elsewhere


def test_trim_tau_fits_the_ticks_that_need_no_raise_at_their_own_level() -> None:
    """One high level everywhere lifts the service-ticks whose target is no raise as well;
    `trim_tau` fits those at a lower level, and leaves the raise's level where it was."""
    import copy

    from training.oracle_imitation import ImitationData, collect, fit

    cfg = TrainConfig(**{**CFG, "graph_probability": 1.0})
    m = build_graph_ppo(cfg, graph_venv(cfg, cfg.training_scenarios()))
    data = collect(cfg, cfg.training_scenarios(), 2, ticks=30)
    rng = np.random.default_rng(0)
    n = np.array([len(unpack(o).services) for o in data.obs])
    real = np.arange(MAX_SERVICES)[None, :] < n[:, None]
    # where no raise is needed, a trim of 0.3 half the time: its level decides the fit
    noise = np.where(rng.random(data.target.shape) < 0.5, -0.3, 0.0).astype(np.float32)
    target = np.where(real, noise, 0.0).astype(np.float32)
    target[:, 0] = np.where(real[:, 0], 0.5, 0.0)  # the first service always needs a raise
    data = ImitationData(data.obs, target)
    outs = {}
    for trim in (None, 0.5):
        p = copy.deepcopy(m.policy)
        fit(p, data, tau=0.95, epochs=40, batch_size=16, learning_rate=3e-3, loss="expectile",
            trim_tau=trim)
        with torch.no_grad():
            outs[trim] = p._extractor().forward_actor(torch.as_tensor(data.obs)).numpy()
    others = real.copy()
    others[:, 0] = False
    assert outs[None][others].mean() > -0.06  # the 0.95 expectile of {0, -0.3}: -0.015
    assert outs[0.5][others].mean() == pytest.approx(-0.15, abs=0.06)  # their mean
    assert outs[0.5][:, 0].mean() == pytest.approx(outs[None][:, 0].mean(), abs=0.1)


@pytest.mark.parametrize(("base", "up", "down", "want"), [
    (4, 4, 4, 0.0),  # the plain target: base is the oracle's count
    (4, 8, 8, 1.0),  # base below the band: raised to its low edge
    (8, 4, 4, -1.0),  # above it: trimmed to its high edge
    (5, 4, 6, 0.0),  # inside the band: left alone
    (2, 4, 6, 1.0),
    (12, 4, 6, -1.0),
    (3, 20, 20, 1.0),  # clipped to the action range
    (0, 0, 0, 0.0),  # no replicas counts as one on both sides
])
def test_band_target(base: int, up: int, down: int, want: float) -> None:
    from training.oracle_imitation import band_target

    got = band_target(np.array([base]), np.array([up]), np.array([down]))
    assert got[0] == pytest.approx(want)
    held = band_target(np.array([base]), np.array([up]), np.array([down]), hold=True)
    assert held[0] == pytest.approx(max(want, 0.0))  # raised as ever, never trimmed


def test_imitation_margins_are_a_band() -> None:
    from pydantic import ValidationError

    from training.config import ImitationConfig

    assert ImitationConfig(margin_up=0.2, margin_down=0.5).margin_down == 0.5
    with pytest.raises(ValidationError, match="margin_down"):
        ImitationConfig(margin_up=0.3, margin_down=0.1)


@pytest.mark.slow
def test_warm_start_alone_is_exported_without_ppo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scaler.learned.runtime import RLPolicy
    from training.train import train

    cfg = TrainConfig(**{**TINY_GRAPH, "total_timesteps": 0,
                         "imitation": {"episodes": 1, "ticks": 8, "epochs": 1,
                                       "loss": "expectile", "tau": 0.98}})
    policy = RLPolicy.load(train(cfg, tmp_path / "run", progress=False))
    training, evaluation = policy.manifest.training, policy.manifest.evaluation
    assert training["timesteps"] == 0 and len(training["curve"]) == 1
    assert evaluation["imitation"]["tau"] == 0.98 and evaluation["imitation"]["samples"] == 8


@pytest.mark.slow
def test_an_ensemble_warm_start_exports_the_members_mean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """members: 2 fits two networks of half the width on their own episodes; the export is one
    actor (in actor.npz and model.zip alike) whose units split into two blocks that never mix."""
    from stable_baselines3 import PPO

    from scaler.learned.runtime import RLPolicy
    from training.train import train

    cfg = TrainConfig(**{**TINY_GRAPH, "total_timesteps": 0, "ppo": {"hidden": 8, "rounds": 1},
                         "imitation": {"episodes": 1, "ticks": 8, "epochs": 1, "members": 2}})
    model = train(cfg, tmp_path / "run", progress=False)
    policy = RLPolicy.load(model)
    assert policy.manifest.evaluation["imitation"]["members"] == 2
    assert policy.manifest.evaluation["imitation"]["samples"] == 16
    w, _ = policy.actor.rounds[0]
    assert w.shape == (32, 8)
    for part in range(4):  # [own, callers, callees, app]: member 0's units read only member 0's
        np.testing.assert_array_equal(w[part * 8: part * 8 + 4, 4:], 0)
        np.testing.assert_array_equal(w[part * 8 + 4: part * 8 + 8, :4], 0)
    assert np.abs(w[:4, :4]).sum() > 0 and np.abs(w[4:8, 4:]).sum() > 0
    sb3 = PPO.load(model / "model.zip", device="cpu").policy.numpy_actor()
    np.testing.assert_array_equal(sb3.rounds[0][0], w)
    with pytest.raises(ValueError, match="must divide ppo.hidden"):
        TrainConfig(**{**TINY_GRAPH, "ppo": {"hidden": 9}, "imitation": {"members": 2}})


def test_shipped_default_is_the_graph_actor_of_its_model_zip() -> None:
    """The default policy's actor.npz is its model.zip's actor, bit for bit, and the runtime acts
    as SB3's `predict` on apps of any size (the boutique it trained on and unseen ones)."""
    from stable_baselines3 import PPO

    from scaler.learned.graph_actor import GraphActor
    from scaler.learned.runtime import RLPolicy, default_model_dir

    policy = RLPolicy.load("default")
    assert policy.is_graph and isinstance(policy.actor, GraphActor)
    sb3 = PPO.load(default_model_dir() / "model.zip", device="cpu")
    mine, theirs = policy.actor, sb3.policy.numpy_actor()
    for a, b in zip([mine.inp, *mine.rounds, mine.head], [theirs.inp, *theirs.rounds, theirs.head],
                    strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    for seed in range(4):
        obs = _obs(seed)
        f = unpack(obs)
        want, _ = sb3.predict(obs[None], deterministic=True)
        np.testing.assert_allclose(policy.act(f), want[0][: len(f.services)], rtol=0, atol=2e-6)
