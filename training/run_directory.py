"""The run directory of `edgewise train --out`: created with a marker, never mixed, resumed only
when it is this tool's.

A new run needs a fresh `--out` (missing or empty); `prepare` writes `edgewise-run.json` there.
`--resume` continues only a directory holding that marker, owned by the user running it and not
writable by others: resuming loads its checkpoints with stable-baselines3, which unpickles them,
so a directory from elsewhere is refused rather than trusted. Training into an existing run
without `--resume` is refused; `--force` starts clean, deleting only what training writes
(`OWNED`). A non-empty directory that is not a run is refused either way.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from training.errors import RunDirectoryError

RUN_MARKER = "edgewise-run.json"
MARKER = {"created_by": "edgewise train", "format": 1}
OWNED = ("checkpoints", "best", "logs", "model", "eval.csv", RUN_MARKER)


def prepare(out: Path, *, resume: bool, force: bool) -> None:
    """Make `out` ready for a new run, or check it may be resumed; RunDirectoryError if not."""
    if resume and force:
        raise RunDirectoryError("--resume continues a run and --force starts a new one: give one")
    if resume:
        check_resumable(out)
        return
    if out.exists() and not out.is_dir():
        raise RunDirectoryError(f"--out {str(out)!r} is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not is_run(out):
            raise RunDirectoryError(
                f"--out {str(out)!r} is not empty and is not a run directory of edgewise train "
                f"(no {RUN_MARKER}): choose a new --out")
        if not force:
            raise RunDirectoryError(
                f"--out {str(out)!r} holds a run already: continue it with --resume, or start "
                f"clean with --force (deletes its {', '.join(OWNED[:-1])}), or choose a new --out")
        _remove_owned(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_MARKER).write_text(json.dumps(MARKER) + "\n")


def is_run(out: Path) -> bool:
    try:
        return bool(json.loads((out / RUN_MARKER).read_text()) == MARKER)
    except (OSError, ValueError):
        return False


def check_resumable(out: Path) -> None:
    if not out.is_dir():
        raise RunDirectoryError(f"--resume: {str(out)!r} is not a directory")
    if not is_run(out):
        raise RunDirectoryError(
            f"--resume: {str(out)!r} was not created by edgewise train (no {RUN_MARKER}); its "
            "checkpoints would be unpickled, so it is not resumed: start a new run (another "
            "--out)")
    for path in (out, out / "checkpoints", out / RUN_MARKER):
        if not path.exists():
            continue
        st = path.lstat()
        if st.st_uid != os.geteuid():
            raise RunDirectoryError(f"--resume: {str(path)!r} is owned by uid {st.st_uid}, not "
                                    "you: not resumed (its checkpoints would be unpickled)")
        if st.st_mode & stat.S_IWOTH or stat.S_ISLNK(st.st_mode):
            raise RunDirectoryError(f"--resume: {str(path)!r} is writable by others or a "
                                    "symlink: not resumed (its checkpoints would be unpickled)")


def _remove_owned(out: Path) -> None:
    for name in OWNED:
        path = out / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
