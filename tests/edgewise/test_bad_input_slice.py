"""`edgewise slice`: a registry that is not a database (or not a file), and bad flags, exit 2
with one line naming the registry or the flag; the file given is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_bad_input, run_cli


def _not_a_database(d: Path) -> Path:
    p = d / "slices.db"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    return p


def _text(d: Path) -> Path:
    p = d / "slices.db"
    p.write_text("this is a text file, not SQLite\n" * 100)
    return p


@pytest.mark.parametrize(("make", "needle"), [
    (_not_a_database, "file is not a database"),
    (_text, "file is not a database"),
    (lambda d: d, "unable to open database file"),
], ids=["binary", "text", "directory"])
@pytest.mark.parametrize("command", [
    ["status", "s1", "--site", "a"],
    ["create", "s1", "--cidr", "10.10.0.0/24"],
    ["render", "s1", "--site", "a"],
])
def test_registry_that_is_not_a_database(tmp_path: Path, make: object, needle: str,
                                         command: list[str]) -> None:
    registry = make(tmp_path)  # type: ignore[operator]
    before = registry.read_bytes() if registry.is_file() else None
    r = run_cli("slice", "--registry", registry, *command)
    assert_bad_input(r, f"registry {str(registry)!r}: {needle}")
    if before is not None:
        assert registry.read_bytes() == before


@pytest.mark.parametrize(("flags", "needle"), [
    (["rotate", "s1", "--site", "a", "--timeout", "nan"], "--timeout"),
    (["rotate", "s1", "--site", "a", "--timeout", "-1"], "--timeout"),
    (["reconcile", "--site", "a", "--loop", "inf"], "--loop"),
    (["reconcile", "--site", "a", "--loop", "0"], "--loop"),
])
def test_bad_slice_flags(tmp_path: Path, flags: list[str], needle: str) -> None:
    assert_bad_input(run_cli("slice", "--registry", tmp_path / "r.db", *flags), needle)
