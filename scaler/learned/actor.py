"""The deterministic actor of an export as plain arrays: what the runtime runs, with no pickle.

`actor.npz` holds `w0, b0, w1, b1, ...` (float32; `w{i}` has shape (inputs, outputs), so a layer
is `h @ w + b`), read with `np.load(..., allow_pickle=False)`: an object array, a pickle or any
name the manifest does not list is refused. The architecture is the manifest's `actor` entry:

    {"file": "actor.npz", "layers": [{"inputs": 109, "outputs": 64, "activation": "tanh"}, ...]}

Activations are the names of `Activation`; the last layer's output is clipped to the action
space [-1, 1] by the caller (`RLPolicy.act`). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from scaler.errors import ModelCorruptError

ACTOR_FILE = "actor.npz"
MAX_UNITS = 4096  # widest layer accepted: bounds what a manifest can make the loader allocate
MAX_LAYERS = 16


class Activation(StrEnum):
    TANH = "tanh"
    RELU = "relu"
    IDENTITY = "identity"

    def apply(self, x: np.ndarray) -> np.ndarray:
        y: np.ndarray = x
        if self is Activation.TANH:
            y = np.tanh(x)
        elif self is Activation.RELU:
            y = np.maximum(x, np.float32(0.0))
        return y


@dataclass(frozen=True)
class LayerSpec:
    inputs: int
    outputs: int
    activation: Activation


@dataclass(frozen=True)
class ActorSpec:
    layers: tuple[LayerSpec, ...]
    file: str = ACTOR_FILE

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "layers": [
            {"inputs": s.inputs, "outputs": s.outputs, "activation": s.activation.value}
            for s in self.layers]}


def parse_actor_spec(raw: Mapping[str, Any], where: str) -> ActorSpec:
    """The manifest's `actor` entry; ModelCorruptError naming what is wrong otherwise."""
    def bad(why: str) -> ModelCorruptError:
        return ModelCorruptError(f"model {where!r}: manifest.json actor {why}; re-export")

    if raw.get("file") != ACTOR_FILE:
        raise bad(f"file must be {ACTOR_FILE!r}, got {raw.get('file')!r}")
    layers = raw.get("layers")
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise bad(f"layers must be a list of 1 to {MAX_LAYERS} layers")
    out: list[LayerSpec] = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise bad(f"layers[{i}] is not an object")
        sizes = [layer.get("inputs"), layer.get("outputs")]
        if not all(type(n) is int and 0 < n <= MAX_UNITS for n in sizes):
            raise bad(f"layers[{i}] inputs/outputs must be integers in 1..{MAX_UNITS}")
        try:
            act = Activation(str(layer.get("activation")))
        except ValueError:
            raise bad(f"layers[{i}] activation {layer.get('activation')!r} is not one of "
                      f"{', '.join(a.value for a in Activation)}") from None
        if out and out[-1].outputs != sizes[0]:
            raise bad(f"layers[{i}] takes {sizes[0]} inputs but layers[{i - 1}] gives "
                      f"{out[-1].outputs}")
        out.append(LayerSpec(int(sizes[0]), int(sizes[1]), act))  # type: ignore[arg-type]
    return ActorSpec(tuple(out))


@dataclass(frozen=True)
class Actor:
    """(weight (inputs, outputs), bias (outputs,), activation) per layer, float32."""

    layers: tuple[tuple[np.ndarray, np.ndarray, Activation], ...]

    @property
    def spec(self) -> ActorSpec:
        return ActorSpec(tuple(LayerSpec(w.shape[0], w.shape[1], a) for w, _, a in self.layers))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = x
        for weight, bias, activation in self.layers:
            h = activation.apply(h @ weight + bias)
        return h


def save_actor(actor: Actor, directory: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b, _) in enumerate(actor.layers):
        arrays[f"w{i}"], arrays[f"b{i}"] = w.astype(np.float32), b.astype(np.float32)
    np.savez(directory / ACTOR_FILE, **arrays)  # type: ignore[arg-type]


def load_actor(directory: Path, spec: ActorSpec, where: str) -> Actor:
    """The weights of `spec` from `directory/actor.npz`, never unpickling anything."""
    want = {f"{k}{i}": shape for i, s in enumerate(spec.layers)
            for k, shape in (("w", (s.inputs, s.outputs)), ("b", (s.outputs,)))}
    try:
        with np.load(directory / spec.file, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != set(want):
                raise ModelCorruptError(
                    f"model {where!r}: {spec.file} holds {sorted(names)}, the manifest's actor "
                    f"needs {sorted(want)}; re-export")
            arrays = {name: _array(npz, name, want[name], where, spec.file) for name in want}
    except (OSError, ValueError, EOFError) as e:  # a pickle or an object array: ValueError
        raise ModelCorruptError(f"model {where!r}: cannot read {spec.file} ({e}); "
                                "re-export") from e
    return Actor(tuple((arrays[f"w{i}"], arrays[f"b{i}"], s.activation)
                       for i, s in enumerate(spec.layers)))


def _array(npz: Any, name: str, shape: Sequence[int], where: str, file: str) -> np.ndarray:
    size = npz.zip.getinfo(f"{name}.npy").file_size  # before allocating: no zip bomb
    if size > 4 * int(np.prod(shape)) + 4096:
        raise ModelCorruptError(f"model {where!r}: {file} {name} is {size} bytes, more than "
                                f"its shape {tuple(shape)} needs; re-export")
    a: np.ndarray = npz[name]
    if a.dtype != np.float32 or a.shape != tuple(shape):
        raise ModelCorruptError(f"model {where!r}: {file} {name} is {a.dtype} {a.shape}, the "
                                f"manifest's actor needs float32 {tuple(shape)}; re-export")
    return a
