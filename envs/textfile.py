"""Reading an input file as text, with the one-line errors every loader gives.

A missing file, a directory, a file we may not read, or a binary file (not UTF-8) each become the
caller's error type naming the path, e.g. `scenario file 'x.yaml': not UTF-8 text (byte 0x89 at
offset 0)`, instead of an OSError or UnicodeDecodeError escaping to the shell.
"""

from __future__ import annotations

from pathlib import Path

MAX_TEXT_BYTES = 256 * 1024 * 1024  # a YAML or config file larger than this is not an input


def describe_os_error(e: OSError) -> str:
    """`No such file or directory`, `Is a directory`, ...: the reason without the path."""
    return e.strerror or type(e).__name__


def describe_decode_error(e: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"


def describe_yaml_error(e: Exception) -> str:
    """One line for a YAML error: the problem and where (`mapping values are not allowed here
    at line 3, column 7`), not PyYAML's multi-line report."""
    problem = getattr(e, "problem", None)
    mark = getattr(e, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def read_text(path: Path, what: str, error: type[Exception]) -> str:
    """The file's text; `error(f"{what} {path!r}: reason")` if it cannot be read as text."""
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise error(f"{what} {str(path)!r}: larger than {MAX_TEXT_BYTES >> 20} MiB")
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{what} {str(path)!r}: {describe_os_error(e)}") from e
    except UnicodeDecodeError as e:
        raise error(f"{what} {str(path)!r}: {describe_decode_error(e)}") from e
