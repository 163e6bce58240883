"""The one check every loader applies to a number read from a file or a flag.

`finite(where, field, raw, ...)` accepts an int or float (never a bool, a string or None), refuses
NaN and the infinities (which pass a check written as `x <= 0`), and applies the bounds asked for;
every error is one line naming the object and the field, raised as the caller's error type (a
`GraphError`, an `AppError`, a `ScenarioError`, ...). `parse_finite` does the same for the text of
a command-line flag.

The upper bounds shared by the loaders live here too, so every error names the same limit.
"""

from __future__ import annotations

import math
from typing import Any

# Upper bounds: larger values are mistakes (or attacks) that would allocate until memory runs out.
MAX_REPLICAS = 10_000
MAX_TICKS = 1_100_000  # history + run: two years of minutes
MAX_DURATION_SECONDS = 400 * 86_400


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def finite(
    where: str,
    field: str,
    raw: Any,
    *,
    error: type[Exception] = ValueError,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
) -> float:
    """`raw` as a float, if it is a finite number within the bounds; else `error(one line)`.

    `minimum` is inclusive (`>=`), `above` exclusive (`>`), `maximum` inclusive (`<=`).
    """
    name = f"{where}: field {field!r}" if where else field
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise error(f"{name} must be a number, got {raw!r}")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise error(f"{name} must be a finite number, got {raw!r}")
    if integer and int(raw) != raw:
        raise error(f"{name} must be a whole number, got {raw!r}")
    if above is not None and not raw > above:
        raise error(f"{name} must be > {_fmt(above)}, got {raw!r}")
    if minimum is not None and not raw >= minimum:
        raise error(f"{name} must be >= {_fmt(minimum)}, got {raw!r}")
    if maximum is not None and not raw <= maximum:
        raise error(f"{name} must be at most {_fmt(maximum)}, got {raw!r}")
    return float(raw)


def parse_finite(
    text: str,
    field: str,
    *,
    error: type[Exception] = ValueError,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
) -> float:
    """A flag's text as a finite float within the bounds (`nan`, `inf`, `1e999` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise error(f"{field} must be a number, got {text!r}") from None
    return finite("", field, value, error=error, minimum=minimum, above=above, maximum=maximum)
