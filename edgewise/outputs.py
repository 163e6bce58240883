"""What a command may write: only the files it owns, never over an input, never silently over an
existing file.

Every command that writes checks its outputs with `claim` *before* it does any work:

- an output that already exists is refused unless `--force` (then it is replaced);
- an output that is one of the command's inputs (the scenario, the trace, ...) is refused even
  with `--force`;
- `--out` naming an existing file where a directory is expected (or the reverse) is refused.

A command whose set of files depends on its input (`place` writes one manifest per cluster)
records what it wrote in `OUT/.edgewise-outputs`; the next run into the same directory removes
the recorded files it no longer writes (stale manifests of stores gone from the fleet), and
refuses a directory holding files of its own kind that it has no record of.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

INDEX = ".edgewise-outputs"


class OutputError(Exception):
    """An output the command may not write (exists, is an input, wrong kind): exit 2."""


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _inputs(inputs: Iterable[str | Path | None]) -> list[Path]:
    return [Path(p) for p in inputs if p is not None and Path(p).exists()]


def claim_file(out: Path, *, force: bool, inputs: Iterable[str | Path | None] = (),
               flag: str = "--out") -> None:
    """`out` (a file) may be written: not a directory, not an input, absent or `force`."""
    for source in _inputs(inputs):
        if _same(out, source):
            raise OutputError(f"{flag} {str(out)!r} is also an input of this command; "
                              "choose another output path")
    if out.is_dir():
        raise OutputError(f"{flag} {str(out)!r} is a directory (a file path is expected)")
    if out.exists() and not force:
        raise OutputError(f"{flag} {str(out)!r} exists (use --force to replace it)")


def claim_dir(out: Path, names: Sequence[str], *, force: bool,
              inputs: Iterable[str | Path | None] = (), flag: str = "--out") -> None:
    """`out` (a directory) may receive `names`: see the module docstring."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag} {str(out)!r} is not a directory")
    sources = _inputs(inputs)
    for name in names:
        target = out / name
        for source in sources:
            if _same(target, source):
                raise OutputError(f"{flag} {str(out)!r}: {name} would overwrite the input "
                                  f"{str(source)!r}; choose another {flag}")
        if target.is_dir():
            raise OutputError(f"{flag} {str(out)!r}: {name} is a directory")
        if target.exists() and not force:
            raise OutputError(f"{flag} {str(out)!r}: {name} exists (use --force to replace "
                              "it, or choose a fresh directory)")


@dataclass(frozen=True)
class OwnedFiles:
    """The files one command wrote in `out` last time (its `.edgewise-outputs` record)."""

    out: Path
    command: str

    def recorded(self) -> set[str]:
        try:
            doc = json.loads((self.out / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        if not isinstance(doc, dict) or doc.get("command") != self.command:
            return set()
        files = doc.get("files")
        return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()

    def check_unrecorded(self, folder: str, pattern: str, names: Sequence[str]) -> None:
        """Refuse `out/folder` if it holds `pattern` files neither recorded nor about to be
        written (another tool's files, or an earlier run we cannot tell stale from current)."""
        known = self.recorded() | set(names)
        for path in sorted((self.out / folder).glob(pattern)):
            rel = path.relative_to(self.out).as_posix()
            if rel not in known:
                raise OutputError(
                    f"--out {str(self.out)!r}: {rel} was not written by `edgewise "
                    f"{self.command}` here (no record in {INDEX}); remove it or choose a fresh "
                    "--out")

    def replace(self, names: Sequence[str]) -> list[str]:
        """Record `names` as what is owned now; delete recorded files not among them."""
        stale = sorted(self.recorded() - set(names))
        for rel in stale:
            path = self.out / rel
            if path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(
                    self.out.resolve()):
                path.unlink()
        doc = {"command": self.command, "files": sorted(names)}
        (self.out / INDEX).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return stale
