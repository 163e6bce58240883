"""The SLO of one app: an objective (latency or availability), a target and a window.

Latency is a ratio SLI from histogram buckets: requests answered within `threshold_seconds` (the
bucket `le` equal to it) over all requests. Availability: requests that did not fail over all
requests. Both are parsed once at the boundary (a YAML file, a request body) into `Slo`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from slo.errors import InvalidSloError

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")  # nothing that could close a PromQL string
METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
WINDOW_DAYS = (7, 28, 30)


class Objective(Enum):
    LATENCY = "latency"
    AVAILABILITY = "availability"


@dataclass(frozen=True)
class SliMetrics:
    """Names of the series the SLIs are computed from (the replay and the twin export these)."""

    histogram: str = "edgewise_request_duration_seconds"
    requests: str = "edgewise_requests_total"
    errors: str = "edgewise_request_errors_total"


@dataclass(frozen=True)
class Slo:
    name: str
    app: str
    objective: Objective
    target_ratio: float
    window_days: int
    selector: tuple[tuple[str, str], ...] = ()
    threshold_seconds: float | None = None  # latency only: a histogram bucket boundary
    metrics: SliMetrics = SliMetrics()

    @property
    def budget_ratio(self) -> float:
        """The share of requests allowed to be bad: 1 - target."""
        return 1.0 - self.target_ratio

    @property
    def window_seconds(self) -> int:
        return self.window_days * 86_400

    @property
    def le(self) -> str:
        """The bucket label of the latency threshold, as a Prometheus client writes it."""
        assert self.threshold_seconds is not None
        return format_le(self.threshold_seconds)


def format_le(seconds: float) -> str:
    """`le` as the Python client (and most others) spell it: repr of the float."""
    return repr(float(seconds))


def _text(raw: dict[str, Any], key: str, where: str, pattern: re.Pattern[str]) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidSloError(f"{where}.{key}", f"expected a name matching {pattern.pattern}, "
                              f"got {value!r}")
    return value


def _target(raw: dict[str, Any], where: str) -> float:
    value = raw.get("target")
    if isinstance(value, str) and value.endswith("%"):
        value = round(float(value[:-1]) / 100.0, 12)  # "99.9%" is 0.999, not 0.99900...01
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.5 <= value < 1.0:
        raise InvalidSloError(f"{where}.target", f"expected a ratio in [0.5, 1) such as 0.995 "
                              f"or '99.5%', got {raw.get('target')!r}")
    return float(value)


def _window(raw: dict[str, Any], where: str) -> int:
    value = raw.get("window", "28d")
    if not isinstance(value, str) or not value.endswith("d") or not value[:-1].isdigit() \
            or int(value[:-1]) not in WINDOW_DAYS:
        raise InvalidSloError(f"{where}.window", f"expected one of "
                              f"{', '.join(f'{d}d' for d in WINDOW_DAYS)}, got {value!r}")
    return int(value[:-1])


def _selector(raw: dict[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    sel = raw.get("selector") or {}
    if not isinstance(sel, dict):
        raise InvalidSloError(f"{where}.selector", "expected a mapping of label: value")
    out = []
    for k, v in sorted(sel.items()):
        if not isinstance(k, str) or not LABEL_NAME.match(k) or k == "le":
            raise InvalidSloError(f"{where}.selector", f"bad label name {k!r}")
        if not isinstance(v, str) or not LABEL_VALUE.match(v):
            raise InvalidSloError(f"{where}.selector.{k}", f"expected a plain label value "
                                  f"matching {LABEL_VALUE.pattern}, got {v!r}")
        out.append((k, v))
    return tuple(out)


def _metrics(raw: dict[str, Any], where: str) -> SliMetrics:
    given = raw.get("metrics") or {}
    if not isinstance(given, dict):
        raise InvalidSloError(f"{where}.metrics", "expected a mapping")
    default = SliMetrics()
    names = {}
    for key in ("histogram", "requests", "errors"):
        value = given.get(key, getattr(default, key))
        if not isinstance(value, str) or not METRIC.match(value):
            raise InvalidSloError(f"{where}.metrics.{key}", f"bad metric name {value!r}")
        names[key] = value
    return SliMetrics(**names)


def parse_slo(raw: Any, where: str = "slo") -> Slo:
    if not isinstance(raw, dict):
        raise InvalidSloError(where, "expected a mapping")
    try:
        objective = Objective(raw.get("objective"))
    except ValueError:
        raise InvalidSloError(f"{where}.objective", "expected 'latency' or 'availability', "
                              f"got {raw.get('objective')!r}") from None
    threshold = None
    if objective is Objective.LATENCY:
        ms = raw.get("threshold_ms")
        if not isinstance(ms, int | float) or isinstance(ms, bool) or not 0 < ms <= 60_000:
            raise InvalidSloError(f"{where}.threshold_ms", f"a latency SLO needs a threshold "
                                  f"in (0, 60000] ms (a histogram bucket), got {ms!r}")
        threshold = float(ms) / 1000.0
    return Slo(name=_text(raw, "name", where, NAME), app=_text(raw, "app", where, NAME),
               objective=objective, target_ratio=_target(raw, where),
               window_days=_window(raw, where), selector=_selector(raw, where),
               threshold_seconds=threshold, metrics=_metrics(raw, where))


def parse_slos(raw: Any) -> tuple[Slo, ...]:
    items = raw.get("slos") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise InvalidSloError("slos", "expected a non-empty list of SLOs")
    slos = tuple(parse_slo(item, f"slos[{i}]") for i, item in enumerate(items))
    seen: set[str] = set()
    for i, s in enumerate(slos):
        if s.name in seen:
            raise InvalidSloError(f"slos[{i}].name", f"duplicate SLO name {s.name!r}")
        seen.add(s.name)
    return slos


def load_slos(path: Path) -> tuple[Slo, ...]:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise InvalidSloError(str(path), f"cannot read SLO file: {e}") from e
    return parse_slos(raw)
