"""An attacker controls the export directory: a pickle payload in any of its files (with the
manifest's checksums recomputed, since they come from the same directory) runs nothing under
`edgewise evaluate --model DIR` or the controller's loader; the loader either refuses with one
clear line or loads only the pickle-free weights.

The payload writes a canary file when unpickled. On the code before the pickle-free runtime
(`PPO.load` of model.zip) the model.zip case wrote the canary."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from controller.assembly import assemble
from controller.spec import parse_spec
from edgewise.cli import main
from envs.graph import load_graph
from scaler.learned.runtime import default_model_dir

TINY_SCENARIO = """name: tiny
graph: boutique
start: 2026-10-05T00:00:00
duration: 1h
history: 14d
"""


class Payload:
    """Unpickling this runs `exec`, which writes the canary."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.canary)!r}, 'w').write('code ran')",))


def _pickled(canary: Path) -> bytes:
    return pickle.dumps(Payload(canary))


def _poison_zip(path: Path, canary: Path) -> None:
    """SB3's zip with every `:serialized:` entry of `data` and every torch file a payload."""
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            members[name] = z.read(name)
    data = json.loads(members["data"])
    b64 = base64.b64encode(_pickled(canary)).decode()
    for value in data.values():
        if isinstance(value, dict) and ":serialized:" in value:
            value[":serialized:"] = b64
    members["data"] = json.dumps(data).encode()
    for name in members:
        if name.endswith(".pth"):
            members[name] = _pickled(canary)
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)


def _poison_npz(path: Path, canary: Path) -> None:
    """Every array of the npz an object array holding the payload (np.save pickles it)."""
    with np.load(path) as npz:
        names = list(npz.files)
    buf = io.BytesIO()
    np.savez(buf, **{n: np.array([Payload(canary)], dtype=object) for n in names})
    path.write_bytes(buf.getvalue())


def _poison(path: Path, canary: Path) -> None:
    if path.suffix == ".zip":
        _poison_zip(path, canary)
    elif path.suffix == ".npz":
        _poison_npz(path, canary)
    else:
        path.write_bytes(_pickled(canary))


def _recompute_checksums(export: Path) -> None:
    m = json.loads((export / "manifest.json").read_text())
    m["files"] = {name: hashlib.sha256((export / name).read_bytes()).hexdigest()
                  for name in m["files"] if (export / name).is_file()}
    (export / "manifest.json").write_text(json.dumps(m, indent=2))


BINARY = ["model.zip", "vecnormalize.pkl", "obs_norm.npz", "actor.npz"]
SAFE_TO_IGNORE = {"model.zip", "vecnormalize.pkl"}  # the runtime never opens them


def _export(tmp_path: Path, target: str, canary: Path) -> Path:
    export = Path(shutil.copytree(default_model_dir(), tmp_path / "evil"))
    if target == "manifest.json":
        (export / "manifest.json").write_bytes(_pickled(canary))
        return export
    names = BINARY if target == "every file" else [target]
    present = [n for n in names if (export / n).is_file()]
    if not present:
        pytest.skip(f"{target} is not part of this export layout")
    for name in present:
        _poison(export / name, canary)
    _recompute_checksums(export)
    return export


TARGETS = [*BINARY, "manifest.json", "every file"]


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    return tmp_path / "canary"


def test_the_payload_does_run_when_unpickled(tmp_path: Path, canary: Path) -> None:
    """The test's own check: the payload is live (so its absence below means something)."""
    pickle.loads(_pickled(canary))
    assert canary.read_text() == "code ran"


@pytest.mark.parametrize("target", TARGETS)
def test_evaluate_runs_nothing_from_a_poisoned_export(
        tmp_path: Path, canary: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    export = _export(tmp_path, target, canary)
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY_SCENARIO)
    try:
        code = main(["evaluate", "--model", str(export), "--scenario", str(scenario),
                     "--policies", "rl-raw", "--out", str(tmp_path / "out")])
    finally:  # checked first, whatever the loader did
        assert not canary.exists(), f"code from {target} ran"
    err = capsys.readouterr().err
    if target in SAFE_TO_IGNORE:
        assert code == 0, err
        res = json.loads((tmp_path / "out" / "results.json").read_text())
        assert res["policies"]["rl-raw"]["replica_hours"] > 0
    else:
        assert code == 2 and err.count("\n") == 1 and str(export) in err, err


@pytest.mark.parametrize("target", TARGETS)
def test_controller_loader_runs_nothing_from_a_poisoned_export(
        tmp_path: Path, canary: Path, target: str) -> None:
    export = _export(tmp_path, target, canary)
    graph = load_graph("boutique")
    spec = parse_spec({"targets": [{"name": s, "service": s} for s in graph.names],
                       "graph": {"inline": {"x": 1}},
                       "policy": {"type": "rl", "model": {"path": str(export)}}})
    try:
        policies = assemble(spec, graph, datetime(2026, 11, 27))
    finally:
        assert not canary.exists(), f"code from {target} ran"
    if target in SAFE_TO_IGNORE:
        assert policies.unready is None and policies.primary is not None
    else:
        assert policies.primary is None and policies.unready is not None
        assert policies.unready.reason == "ModelLoadFailed"
        assert str(export) in policies.unready.message
