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


def fail(prog: str, message: str, code: Exit = Exit.USAGE) -> int:
    """Print `prog: error: message` on one stderr line; return `code`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return int(code)
