"""Running the real `edgewise` entry point in-process, and the bad-input assertion every
tests/edgewise/test_bad_input_*.py table uses."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from edgewise.cli import main

REPO = Path(__file__).resolve().parents[2]
AS_ROOT = os.geteuid() == 0  # root reads and writes through any permission bits


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(*argv: str | Path) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return Result(code, out.getvalue(), err.getvalue())


def assert_bad_input(r: Result, needle: str) -> None:
    """Exit 2, one stderr line, naming the field or path (`needle`), no traceback."""
    assert r.code == 2, (r.code, r.err)
    assert "Traceback" not in r.err, r.err
    assert len(r.err_lines) == 1, r.err
    assert needle in r.err_lines[0], r.err_lines[0]
