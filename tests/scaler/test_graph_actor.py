"""The graph actor's numpy runtime: shared across services, any app size, pickle-free files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scaler.errors import ModelCorruptError
from scaler.learned.graph_actor import (
    GraphActor,
    actor_version,
    ensemble,
    graph_actor_spec,
    load_graph_actor,
    parse_graph_actor_spec,
    save_graph_actor,
)

F, G, H = 5, 3, 8


def _actor(rng: np.random.Generator, rounds: int = 2) -> GraphActor:
    def layer(i: int, o: int) -> tuple[np.ndarray, np.ndarray]:
        return (rng.normal(0, 0.5, (i, o)).astype(np.float32),
                rng.normal(0, 0.1, o).astype(np.float32))

    return GraphActor(layer(F + G, H), tuple(layer(4 * H, H) for _ in range(rounds)),
                      layer(H, 1))


def _app(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    callers = np.zeros((n, n), dtype=np.float32)
    for i in range(1, n):
        callers[i, rng.integers(i)] = 1.0
    return (rng.normal(size=(n, F)).astype(np.float32), rng.normal(size=G).astype(np.float32),
            callers)


def test_relabelling_services_permutes_the_actions() -> None:
    rng = np.random.default_rng(0)
    actor = _actor(rng)
    s, a, c = _app(rng, 9)
    perm = rng.permutation(9)
    out = actor(s, a, c)
    assert np.allclose(actor(s[perm], a, c[np.ix_(perm, perm)]), out[perm], atol=1e-5)


def test_any_number_of_services_and_the_graph_matters() -> None:
    rng = np.random.default_rng(1)
    actor = _actor(rng)
    for n in (1, 5, 40, 120):
        s, a, c = _app(rng, n)
        assert actor(s, a, c).shape == (n,)
    s, a, c = _app(rng, 6)
    assert not np.allclose(actor(s, a, c), actor(s, a, np.zeros_like(c)))


@pytest.mark.parametrize("rounds", [0, 1, 2])
def test_an_ensemble_is_one_actor_acting_as_its_members_mean(rounds: int) -> None:
    rng = np.random.default_rng(3)
    members = [_actor(rng, rounds) for _ in range(3)]
    merged = ensemble(members)
    assert merged.spec_hidden == 3 * H and len(merged.rounds) == rounds
    for n in (1, 4, 17):
        s, a, c = _app(rng, n)
        want = np.mean([m(s, a, c) for m in members], axis=0)
        np.testing.assert_allclose(merged(s, a, c), want, rtol=1e-5, atol=1e-6)
    assert ensemble(members[:1]).inp[0].shape == members[0].inp[0].shape
    with pytest.raises(ValueError, match="same inputs and rounds"):
        ensemble([members[0], _actor(rng, rounds + 1)])
    with pytest.raises(ValueError, match="one or more"):
        ensemble([])


def test_round_trip_and_version_field(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    actor = _actor(rng)
    save_graph_actor(actor, tmp_path)
    spec = parse_graph_actor_spec(graph_actor_spec(actor, F).to_json(), "m")
    loaded = load_graph_actor(tmp_path, spec, "m")
    s, a, c = _app(rng, 7)
    assert np.array_equal(loaded(s, a, c), actor(s, a, c))
    with np.load(tmp_path / "actor.npz") as npz:
        assert int(npz["version"]) == 2
    assert actor_version({"file": "actor.npz", "layers": []}) == 1  # the MLP format: no field


def test_bad_files_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    actor = _actor(rng)
    spec_json = graph_actor_spec(actor, F).to_json()
    spec = parse_graph_actor_spec(spec_json, "m")
    save_graph_actor(actor, tmp_path)
    with np.load(tmp_path / "actor.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez(tmp_path / "actor.npz", **(arrays | {"version": np.array(3)}))
    with pytest.raises(ModelCorruptError, match="version"):
        load_graph_actor(tmp_path, spec, "m")
    np.savez(tmp_path / "actor.npz", **(arrays | {"inp_w": np.array([object()], dtype=object)}))
    with pytest.raises(ModelCorruptError, match="cannot read"):  # never unpickled
        load_graph_actor(tmp_path, spec, "m")
    np.savez(tmp_path / "actor.npz", **(arrays | {"head_b": np.zeros(2, np.float32)}))
    with pytest.raises(ModelCorruptError, match="head_b"):
        load_graph_actor(tmp_path, spec, "m")
    for bad, match in (({"version": 1}, "graph version 2"), ({"hidden": 0}, "hidden"),
                       ({"rounds": 99}, "rounds"), ({"file": "x.npz"}, "file")):
        with pytest.raises(ModelCorruptError, match=match):
            parse_graph_actor_spec(spec_json | bad, "m")


def test_an_unknown_actor_version_is_refused_naming_both(tmp_path: Path) -> None:
    import json
    import shutil

    from scaler.learned.runtime import RLPolicy, default_model_dir

    model = Path(shutil.copytree(default_model_dir(), tmp_path / "m"))
    m = json.loads((model / "manifest.json").read_text())
    m["actor"]["version"] = 7
    (model / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelCorruptError, match=r"version 7 is not one this code runs \(1: MLP, "
                                                r"2: graph\)"):
        RLPolicy.load(model)
