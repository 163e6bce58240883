"""`edgewise train --out`: a new run needs a fresh directory (and marks it), an existing run is
refused unless --resume (only this tool's, owned by you) or --force (deletes only what training
writes), a directory that is not a run is never touched. Pure: no ml extra needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from training.errors import RunDirectoryError
from training.run_directory import OWNED, RUN_MARKER, check_resumable, is_run, prepare


def _run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    prepare(out, resume=False, force=False)
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "ppo_000000256.zip").write_bytes(b"old run")
    (out / "eval.csv").write_text("timesteps\n1\n")
    (out / "notes.txt").write_text("mine")
    return out


def test_a_new_run_is_marked(tmp_path: Path) -> None:
    prepare(tmp_path / "new", resume=False, force=False)
    assert is_run(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    prepare(tmp_path / "empty", resume=False, force=False)
    assert is_run(tmp_path / "empty")


def test_an_existing_run_is_refused_without_resume_or_force(tmp_path: Path) -> None:
    out = _run(tmp_path)
    with pytest.raises(RunDirectoryError, match="holds a run already.*--resume.*--force"):
        prepare(out, resume=False, force=False)
    assert (out / "checkpoints" / "ppo_000000256.zip").read_bytes() == b"old run"


def test_force_starts_clean_and_deletes_only_owned_files(tmp_path: Path) -> None:
    out = _run(tmp_path)
    prepare(out, resume=False, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["edgewise-run.json", "notes.txt"]
    assert set(OWNED) >= {"checkpoints", "eval.csv"}


@pytest.mark.parametrize("force", [False, True])
def test_a_directory_that_is_not_a_run_is_never_touched(tmp_path: Path, force: bool) -> None:
    out = tmp_path / "photos"
    out.mkdir()
    (out / "eval.csv").write_text("not ours")
    with pytest.raises(RunDirectoryError, match=f"not a run directory.*no {RUN_MARKER}"):
        prepare(out, resume=False, force=force)
    assert (out / "eval.csv").read_text() == "not ours"


@pytest.mark.parametrize("marker", [None, "{", json.dumps({"created_by": "someone else"})])
def test_resume_refuses_a_directory_this_tool_did_not_create(tmp_path: Path,
                                                             marker: str | None) -> None:
    out = _run(tmp_path)
    if marker is None:
        (out / RUN_MARKER).unlink()
    else:
        (out / RUN_MARKER).write_text(marker)
    with pytest.raises(RunDirectoryError, match="not created by edgewise train.*unpickled"):
        prepare(out, resume=True, force=False)


def test_resume_refuses_a_run_others_can_write(tmp_path: Path) -> None:
    out = _run(tmp_path)
    check_resumable(out)
    os.chmod(out / "checkpoints", 0o777)
    with pytest.raises(RunDirectoryError, match="writable by others"):
        check_resumable(out)


def test_resume_refuses_a_symlinked_checkpoints_directory(tmp_path: Path) -> None:
    out = _run(tmp_path)
    (out / "checkpoints").rename(tmp_path / "elsewhere")
    (out / "checkpoints").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunDirectoryError, match="symlink"):
        check_resumable(out)


def test_resume_and_force_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="give one"):
        prepare(_run(tmp_path), resume=True, force=True)


def test_resume_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="not a directory"):
        prepare(tmp_path / "nope", resume=True, force=False)
