"""Scenarios: an app graph, a demand (generated or imported), events, an SLO, a duration.

A scenario is YAML, parsed once here into a frozen `Scenario`; `build` turns it and a seed into
the entry demand of the history window (what a metrics store holds before the run) and of the run.
Built-in scenarios live in envs/data/scenario-NAME.yaml.

```yaml
name: black-friday
graph: boutique                 # a built-in graph, or a YAML path relative to this file
start: 2026-11-23T00:00:00
duration: 7d                    # s, m, h, d, w suffixes, or seconds
history: 14d
tick_seconds: 60
slo: {p95_latency_ms: 400, max_error_ratio: 0.001}
prices: {cloud_vcpu_hour: 0.048, edge_vcpu_hour: 0.070}
workload: {base_rps: 200}        # any WorkloadSpec field; or `trace: FILE.csv` (envs/trace.py)
events:
  - {name: black-friday, start: 2026-11-27T00:00:00, multiplier: 8, ramp: 15m, peak: 6h,
     decay: 6h, announced: true}
```

A trace replaces the generated workload: `trace: FILE.csv` (relative to the scenario file), and
- `trace_scale: K` multiplies every rate by K, or `trace_daily_peak_rps: X` scales the trace so
  its ordinary daily peak (the median over calendar days of each day's maximum, history and run
  together) is X requests per second (give one of the two, not both);
- `trace_gaps: error | zero` (default `error`): `zero` says that hours without samples are closed
  hours, zero demand, instead of a broken export;
- `trace_smooth: 15m` (default none): a centred moving average over that window, for a log of
  orders or sessions where each line stands for a visit's requests spread around it;
- `trace_align: calendar | start` (default `calendar`): the trace's timestamps are dates on the
  scenario's calendar and must cover the history and the run; `start` replays the trace's first
  sample at `start - history`, whatever its date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from envs.daily_peak import median_daily_peak
from envs.errors import EnvError, ScenarioError
from envs.graph import ServiceGraph, load_graph
from envs.number import MAX_DURATION_SECONDS, MAX_TICKS, finite
from envs.observation import Slo
from envs.textfile import describe_yaml_error, read_text
from envs.trace import GapPolicy, TraceAlign, load_trace
from envs.twin_config import Prices, TwinConfig
from envs.workload import Event, WorkloadSpec, generate

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_TICK_SECONDS = 86_400
MAX_MULTIPLIER = 1_000.0
MAX_RPS = 1e9


def parse_duration(raw: Any, field: str, *, maximum: float = MAX_DURATION_SECONDS) -> float:
    """Seconds from a number or a string like `15m`, `6h`, `7d`, `2w`, at most `maximum`."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = finite("", f"field {field!r}: duration", raw, error=ScenarioError, minimum=0)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(raw))
        if not m:
            raise ScenarioError(
                f"field {field!r}: expected a duration like 90s, 15m, 6h, 7d, got {raw!r}"
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds > maximum:
        raise ScenarioError(f"field {field!r}: duration {raw!r} is more than the bound of "
                            f"{maximum / 86_400:g} days")
    return seconds


def _datetime(raw: Any, field: str) -> datetime:
    """A naive date-time; an offset (`+02:00`, `Z`) is converted to UTC, as traces do."""
    if isinstance(raw, datetime):
        dt = raw
    else:
        try:
            dt = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(
                f"field {field!r}: expected an ISO date-time, got {raw!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _mapping(raw: Any, field: str, known: set[str]) -> Mapping[str, Any]:
    """An optional mapping field with only `known` keys."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"field {field!r}: expected a mapping, got {raw!r}")
    unknown = sorted(str(k) for k in set(raw) - known)
    if unknown:
        raise ScenarioError(
            f"field {field!r}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return raw


def _flag(raw: Any, field: str) -> bool:
    if not isinstance(raw, bool):
        raise ScenarioError(f"field {field!r}: must be true or false, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Scenario:
    name: str
    graph: ServiceGraph
    start: datetime
    duration_seconds: int
    history_seconds: int
    tick_seconds: int
    slo: Slo
    prices: Prices
    workload: WorkloadSpec
    events: tuple[Event, ...]
    trace_rps: np.ndarray | None = None  # imported demand covering history + run, per tick

    @property
    def ticks(self) -> int:
        return self.duration_seconds // self.tick_seconds

    @property
    def history_ticks(self) -> int:
        return self.history_seconds // self.tick_seconds

    @property
    def calendar(self) -> tuple[Event, ...]:
        """The announced events: what a policy may know ahead of time."""
        return tuple(e for e in self.events if e.announced)

    def config(self) -> TwinConfig:
        return TwinConfig(self.graph, self.slo, self.tick_seconds, self.prices)

    def demand(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(history, run) entry demand in requests per second, one value per tick."""
        n_hist, n_run = self.history_ticks, self.ticks
        if self.trace_rps is not None:
            series = self.trace_rps
        else:
            rng = np.random.default_rng(seed)
            first = self.start - timedelta(seconds=self.history_seconds)
            series = generate(
                self.workload, self.events, first, n_hist + n_run, self.tick_seconds, rng
            )
        return series[:n_hist], series[n_hist : n_hist + n_run]


def _event(raw: Any, i: int) -> Event:
    where = f"events[{i}]"
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a mapping, got {raw!r}")
    for key in ("name", "start", "multiplier"):
        if key not in raw:
            raise ScenarioError(f"{where}: missing field {key!r}")
    return Event(
        name=str(raw["name"]),
        start=_datetime(raw["start"], f"{where}.start"),
        multiplier=finite(where, "multiplier", raw["multiplier"], error=ScenarioError, above=0,
                          maximum=MAX_MULTIPLIER),
        ramp_seconds=parse_duration(raw.get("ramp", "15m"), f"{where}.ramp"),
        peak_seconds=parse_duration(raw.get("peak", "1h"), f"{where}.peak"),
        decay_seconds=parse_duration(raw.get("decay", "1h"), f"{where}.decay"),
        announced=_flag(raw.get("announced", True), f"{where}.announced"),
    )


def _profile(raw: Any, field: str) -> tuple[float, ...]:
    if not isinstance(raw, list | tuple):
        raise ScenarioError(f"field {field!r}: expected a list of numbers, got {raw!r}")
    return tuple(finite("workload", f"{field}[{k}]", x, error=ScenarioError, minimum=0,
                        maximum=MAX_MULTIPLIER) for k, x in enumerate(raw))


def _holidays(raw: Any) -> tuple[tuple[datetime, float], ...]:
    if not isinstance(raw, list | tuple):
        raise ScenarioError(f"field 'workload.holiday_weeks': expected a list, got {raw!r}")
    out = []
    for k, h in enumerate(raw):
        field = f"workload.holiday_weeks[{k}]"
        h = _mapping(h, field, {"start", "multiplier"})
        if "start" not in h or "multiplier" not in h:
            raise ScenarioError(f"field {field!r}: needs 'start' and 'multiplier'")
        out.append((_datetime(h["start"], f"{field}.start"),
                    finite(field, "multiplier", h["multiplier"], error=ScenarioError, above=0,
                           maximum=MAX_MULTIPLIER)))
    return tuple(out)


_WORKLOAD_BOUNDS = {"base_rps": (0.0, MAX_RPS, True), "trend_per_week": (-1.0, 10.0, False),
                    "noise_cv": (0.0, 2.0, False), "noise_correlation": (0.0, 1.0, False)}


def _workload(raw: Any) -> WorkloadSpec:
    known = {f.name for f in fields(WorkloadSpec)}
    raw = dict(_mapping(raw, "workload", known))
    values: dict[str, Any] = {}
    for key, (low, high, strict) in _WORKLOAD_BOUNDS.items():
        if key in raw:
            values[key] = finite("workload", key, raw[key], error=ScenarioError,
                                 above=low if strict else None,
                                 minimum=None if strict else low, maximum=high)
    for key in ("daily_profile", "weekly_profile"):
        if key in raw:
            values[key] = _profile(raw[key], f"workload.{key}")
    if "holiday_weeks" in raw:
        values["holiday_weeks"] = _holidays(raw["holiday_weeks"])
    return WorkloadSpec(**values)


def _slo(raw: Any) -> Slo:
    f = _mapping(raw, "slo", {"p95_latency_ms", "max_error_ratio"})
    return Slo(finite("slo", "p95_latency_ms", f.get("p95_latency_ms", 400), error=ScenarioError,
                      above=0, maximum=3_600_000),
               finite("slo", "max_error_ratio", f.get("max_error_ratio", 0.001),
                      error=ScenarioError, minimum=0, maximum=1))


def _prices(raw: Any) -> Prices:
    f = _mapping(raw, "prices", {"cloud_vcpu_hour", "edge_vcpu_hour"})
    return Prices(**{k: finite("prices", k, v, error=ScenarioError, minimum=0, maximum=1_000)
                     for k, v in f.items()})


def _ticks(raw: Mapping[str, Any]) -> tuple[int, int, int]:
    """tick_seconds, duration and history in seconds, bounded (a tick is whole seconds)."""
    tick_raw = parse_duration(raw.get("tick_seconds", 60), "tick_seconds",
                              maximum=MAX_TICK_SECONDS)
    if tick_raw < 1 or tick_raw != int(tick_raw):
        raise ScenarioError(f"field 'tick_seconds' must be whole seconds >= 1, got {tick_raw:g}")
    tick = int(tick_raw)
    duration = int(parse_duration(raw.get("duration", "7d"), "duration"))
    history = int(parse_duration(raw.get("history", "14d"), "history"))
    if duration // tick <= 0:
        raise ScenarioError("field 'duration' must be at least one tick")
    if (duration + history) // tick > MAX_TICKS:
        raise ScenarioError(f"fields 'duration' + 'history': {(duration + history) // tick:,} "
                            f"ticks, more than the bound of {MAX_TICKS:,}")
    return tick, duration, history


def _graph(raw: Mapping[str, Any], base_dir: Path | None) -> ServiceGraph:
    graph_ref = str(raw.get("graph", "boutique"))
    graph_path = (
        (base_dir / graph_ref) if base_dir and graph_ref.endswith((".yaml", ".yml")) else graph_ref
    )
    return load_graph(graph_path)


def parse_scenario(raw: Any, *, base_dir: Path | None = None, name: str = "scenario") -> Scenario:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"scenario {name!r}: expected a mapping")
    name = str(raw.get("name", name))
    try:
        tick, duration, history = _ticks(raw)
        events = raw.get("events") or []
        if not isinstance(events, list):
            raise ScenarioError(f"field 'events': expected a list, got {events!r}")
        scenario = Scenario(
            name=name,
            graph=_graph(raw, base_dir),
            start=_datetime(raw.get("start", "2026-11-23T00:00:00"), "start"),
            duration_seconds=duration,
            history_seconds=history,
            tick_seconds=tick,
            slo=_slo(raw.get("slo")),
            prices=_prices(raw.get("prices")),
            workload=_workload(raw.get("workload")),
            events=tuple(_event(e, i) for i, e in enumerate(events)),
        )
    except ScenarioError as e:
        raise ScenarioError(f"scenario {name!r}: {e}") from e
    if "trace" in raw:
        scenario = _with_trace(scenario, raw, base_dir)
    return scenario


def _choice(raw: Mapping[str, Any], field: str, kind: type[GapPolicy] | type[TraceAlign],
            default: str) -> Any:
    value = raw.get(field, default)
    try:
        return kind(str(value))
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise ScenarioError(f"field {field!r} must be one of {known}, got {value!r}") from None


def _smooth_ticks(raw: Mapping[str, Any], scenario: Scenario) -> int:
    """The `trace_smooth` window in ticks (1: none), at most the trace's length."""
    if "trace_smooth" not in raw:
        return 1
    seconds = parse_duration(raw["trace_smooth"], "trace_smooth",
                             maximum=scenario.history_seconds + scenario.duration_seconds)
    return max(1, int(seconds // scenario.tick_seconds))


def _with_trace(scenario: Scenario, raw: Mapping[str, Any], base_dir: Path | None) -> Scenario:
    """The scenario with its demand imported from `trace` (see the module docstring)."""
    where = f"scenario {scenario.name!r}"
    trace_path = Path(str(raw["trace"]))
    if not (trace_path.is_absolute() or base_dir is None):
        trace_path = base_dir / trace_path
    first = scenario.start - timedelta(seconds=scenario.history_seconds)
    if "trace_scale" in raw and "trace_daily_peak_rps" in raw:
        raise ScenarioError(f"{where}: give trace_scale or trace_daily_peak_rps, not both")
    scale = finite(where, "trace_scale", raw.get("trace_scale", 1.0), error=ScenarioError,
                   above=0, maximum=1e6)
    peak = finite(where, "trace_daily_peak_rps", raw.get("trace_daily_peak_rps", 1.0),
                  error=ScenarioError, above=0, maximum=MAX_RPS)
    try:
        gaps = _choice(raw, "trace_gaps", GapPolicy, GapPolicy.ERROR.value)
        align = _choice(raw, "trace_align", TraceAlign, TraceAlign.CALENDAR.value)
        width = _smooth_ticks(raw, scenario)
    except ScenarioError as e:
        raise ScenarioError(f"{where}: {e}") from e
    rps = load_trace(trace_path, first, scenario.history_ticks + scenario.ticks,
                     scenario.tick_seconds, gaps=gaps, align=align)
    if width > 1:
        rps = np.convolve(rps, np.ones(width) / width, mode="same")
    if "trace_daily_peak_rps" in raw:
        ordinary = median_daily_peak(rps, first, scenario.tick_seconds)
        if ordinary <= 0:
            raise ScenarioError(f"{where}: the trace has no demand to scale")
        scale = peak / ordinary
    return replace(scenario, trace_rps=rps * scale)


def load_scenario(source: str | Path) -> Scenario:
    """A scenario from a YAML file, or a built-in one by name (see `builtin_scenarios`)."""
    path = Path(source)
    if path.suffix in {".yaml", ".yml"}:
        text = read_text(path, "scenario file", ScenarioError)
        base_dir, default = path.parent, path.stem
    else:
        res = resources.files("envs.data").joinpath(f"scenario-{source}.yaml")
        if not res.is_file():
            raise ScenarioError(
                f"unknown scenario {str(source)!r} (built-in: {', '.join(builtin_scenarios())}; "
                "or give a .yaml file)"
            )
        text, base_dir, default = res.read_text(), None, str(source)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScenarioError(
            f"scenario {default!r}: not valid YAML ({describe_yaml_error(e)})") from e
    try:
        return parse_scenario(raw, base_dir=base_dir, name=default)
    except EnvError:
        raise
    except Exception as e:  # a malformed value deep in the file: still one clear line
        raise ScenarioError(f"scenario {default!r}: {type(e).__name__}: {e}") from e


def builtin_scenarios() -> list[str]:
    files = resources.files("envs.data").iterdir()
    return sorted(f.name[9:-5] for f in files if f.name.startswith("scenario-"))
