"""The exit codes every `edgewise` command returns, and the one way a command reports bad input.

- `OK` (0): done.
- `FAILURE` (1): a failure that is not the input's fault (a bug, a part that failed at run time).
- `USAGE` (2): bad input (a flag, a file, a spec): one stderr line naming the problem.
"""

from __future__ import annotations

import sys
from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2


def one_line(message: str) -> str:
    """`message` as one line: its lines (split at any line break, `\r` included) joined by
    `; `, so a value holding a line break cannot split an error over several lines."""
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def fail(prog: str, message: str, code: Exit = Exit.USAGE) -> int:
    """Print `prog: error: message` on one stderr line; return `code`."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return int(code)
