"""The graph-conditioned actor as plain arrays: one network for every service, any app size.

`actor.npz` version 2 ("graph"; version 1 is the per-app MLP of scaler/learned/actor.py, whose
files carry no version field) holds, float32 unless said otherwise:

    version   int64 ()           2
    inp_w     (F + G, H), inp_b (H,)        the shared input layer (service row + app row)
    round{k}_w (4H, H), round{k}_b (H,)     message-passing round k = 0 .. rounds - 1
    head_w    (H, 1), head_b (1,)           the per-service action head

read with `np.load(..., allow_pickle=False)`; the manifest's `actor` entry gives the shape:

    {"file": "actor.npz", "kind": "graph", "version": 2, "hidden": 64, "rounds": 2,
     "service_features": F, "app_features": G}

The function (the torch module of training/graph_policy.py, in numpy): for services S (n, F),
app features a (G,) and callers C (n, n) (C[i, j] = 1: j calls i),
h = tanh([S, a] W_in + b_in); per round h = tanh([h, U h, D h, mean(h)] W_k + b_k) with U, D the
row-normalised caller and callee matrices; action = h W_head + b_head, per service. The caller
clips it to the action space [-1, 1]. Pure numpy.

An ensemble needs no format of its own: `ensemble(members)` is one actor of the members' summed
width, block-diagonal (member m's units see only member m's units, in every round and pool),
whose head averages theirs, so its action is exactly the mean of the members' actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scaler.errors import ModelCorruptError

GRAPH_ACTOR_VERSION = 2
MLP_ACTOR_VERSION = 1
ACTOR_FILE = "actor.npz"
MAX_HIDDEN = 1024
MAX_ROUNDS = 8
MAX_FEATURES = 4096

Layer = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class GraphActorSpec:
    hidden: int
    rounds: int
    service_features: int
    app_features: int
    file: str = ACTOR_FILE

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "kind": "graph", "version": GRAPH_ACTOR_VERSION,
                "hidden": self.hidden, "rounds": self.rounds,
                "service_features": self.service_features, "app_features": self.app_features}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        h = self.hidden
        out: dict[str, tuple[int, ...]] = {
            "inp_w": (self.service_features + self.app_features, h), "inp_b": (h,),
            "head_w": (h, 1), "head_b": (1,)}
        for k in range(self.rounds):
            out[f"round{k}_w"], out[f"round{k}_b"] = (4 * h, h), (h,)
        return out


def actor_version(raw: Mapping[str, Any]) -> int:
    """The manifest actor entry's format version: 1 (MLP) when it names none."""
    version = raw.get("version", MLP_ACTOR_VERSION)
    return version if type(version) is int else -1


def parse_graph_actor_spec(raw: Mapping[str, Any], where: str) -> GraphActorSpec:
    def bad(why: str) -> ModelCorruptError:
        return ModelCorruptError(f"model {where!r}: manifest.json actor {why}; re-export")

    if raw.get("file") != ACTOR_FILE:
        raise bad(f"file must be {ACTOR_FILE!r}, got {raw.get('file')!r}")
    if raw.get("kind") != "graph" or actor_version(raw) != GRAPH_ACTOR_VERSION:
        raise bad(f"kind {raw.get('kind')!r} version {raw.get('version')!r} is not graph "
                  f"version {GRAPH_ACTOR_VERSION}")
    limits = {"hidden": MAX_HIDDEN, "rounds": MAX_ROUNDS, "service_features": MAX_FEATURES,
              "app_features": MAX_FEATURES}
    values: dict[str, int] = {}
    for key, top in limits.items():
        v = raw.get(key)
        low = 0 if key == "rounds" else 1
        if type(v) is not int or not low <= v <= top:
            raise bad(f"{key} must be an integer in {low}..{top}, got {v!r}")
        values[key] = v
    return GraphActorSpec(values["hidden"], values["rounds"], values["service_features"],
                          values["app_features"])


@dataclass(frozen=True)
class GraphActor:
    inp: Layer
    rounds: tuple[Layer, ...]
    head: Layer

    @property
    def spec_hidden(self) -> int:
        return int(self.inp[0].shape[1])

    def __call__(self, services: np.ndarray, app: np.ndarray, callers: np.ndarray) -> np.ndarray:
        """Per-service actions (n,) for services (n, F), app (G,), callers (n, n)."""
        n = len(services)
        x = np.concatenate([services, np.broadcast_to(app, (n, len(app)))], axis=1)
        h = np.tanh(x @ self.inp[0] + self.inp[1])
        up = callers / np.maximum(callers.sum(1, keepdims=True), 1.0)
        callees = callers.T
        down = callees / np.maximum(callees.sum(1, keepdims=True), 1.0)
        for w, b in self.rounds:
            pool = np.broadcast_to(h.mean(0), h.shape)
            h = np.tanh(np.concatenate([h, up @ h, down @ h, pool], axis=1) @ w + b)
        out: np.ndarray = (h @ self.head[0] + self.head[1])[:, 0]
        return out


def ensemble(members: Sequence[GraphActor]) -> GraphActor:
    """One actor computing the mean of `members`' actions (same rounds and inputs each)."""
    if not members or len({(len(a.rounds), a.inp[0].shape[0]) for a in members}) != 1:
        raise ValueError("an ensemble needs one or more graph actors with the same inputs and "
                         "rounds")
    widths = [a.spec_hidden for a in members]
    total, starts = sum(widths), np.cumsum([0, *widths[:-1]])
    rounds = []
    for k in range(len(members[0].rounds)):
        w = np.zeros((4 * total, total), dtype=np.float32)
        for a, lo, h in zip(members, starts, widths, strict=True):
            for part in range(4):  # [own, callers' mean, callees' mean, app's mean]
                w[part * total + lo: part * total + lo + h, lo: lo + h] = \
                    a.rounds[k][0][part * h: (part + 1) * h]
        rounds.append((w, np.concatenate([a.rounds[k][1] for a in members])))
    m = np.float32(len(members))
    return GraphActor(
        (np.concatenate([a.inp[0] for a in members], axis=1),
         np.concatenate([a.inp[1] for a in members])),
        tuple(rounds),
        (np.concatenate([a.head[0] for a in members]) / m,
         (np.sum([a.head[1] for a in members], axis=0) / m).astype(np.float32)))


def graph_actor_spec(actor: GraphActor, service_features: int) -> GraphActorSpec:
    f_g = actor.inp[0].shape[0]
    return GraphActorSpec(actor.spec_hidden, len(actor.rounds), service_features,
                          f_g - service_features)


def save_graph_actor(actor: GraphActor, directory: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "version": np.array(GRAPH_ACTOR_VERSION, dtype=np.int64),
        "inp_w": actor.inp[0], "inp_b": actor.inp[1],
        "head_w": actor.head[0], "head_b": actor.head[1]}
    for k, (w, b) in enumerate(actor.rounds):
        arrays[f"round{k}_w"], arrays[f"round{k}_b"] = w, b
    out: dict[str, Any] = {k: (v if k == "version" else v.astype(np.float32))
                           for k, v in arrays.items()}
    np.savez(directory / ACTOR_FILE, **out)


def load_graph_actor(directory: Path, spec: GraphActorSpec, where: str) -> GraphActor:
    """The weights of `spec` from `directory/actor.npz`, never unpickling anything."""
    want = spec.shapes()
    try:
        with np.load(directory / spec.file, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != set(want) | {"version"}:
                raise ModelCorruptError(
                    f"model {where!r}: {spec.file} holds {sorted(names)}, the manifest's graph "
                    f"actor needs {sorted(set(want) | {'version'})}; re-export")
            version = npz["version"]
            if version.shape != () or version.dtype.kind != "i" or int(version) != 2:
                raise ModelCorruptError(f"model {where!r}: {spec.file} version {version!r} is "
                                        f"not {GRAPH_ACTOR_VERSION} (graph); re-export")
            arrays = {name: _array(npz, name, shape, where, spec.file)
                      for name, shape in want.items()}
    except (OSError, ValueError, EOFError) as e:  # a pickle or an object array: ValueError
        raise ModelCorruptError(f"model {where!r}: cannot read {spec.file} ({e}); "
                                "re-export") from e
    return GraphActor((arrays["inp_w"], arrays["inp_b"]),
                      tuple((arrays[f"round{k}_w"], arrays[f"round{k}_b"])
                            for k in range(spec.rounds)),
                      (arrays["head_w"], arrays["head_b"]))


def _array(npz: Any, name: str, shape: tuple[int, ...], where: str, file: str) -> np.ndarray:
    size = npz.zip.getinfo(f"{name}.npy").file_size  # before allocating: no zip bomb
    if size > 4 * int(np.prod(shape)) + 4096:
        raise ModelCorruptError(f"model {where!r}: {file} {name} is {size} bytes, more than "
                                f"its shape {shape} needs; re-export")
    a: np.ndarray = npz[name]
    if a.dtype != np.float32 or a.shape != shape:
        raise ModelCorruptError(f"model {where!r}: {file} {name} is {a.dtype} {a.shape}, the "
                                f"manifest's graph actor needs float32 {shape}; re-export")
    return a
