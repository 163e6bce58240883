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
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from envs.daily_peak import median_daily_peak
from envs.errors import EnvError, ScenarioError
from envs.graph import ServiceGraph, load_graph
from envs.observation import Slo
from envs.trace import GapPolicy, TraceAlign, load_trace
from envs.twin_config import Prices, TwinConfig
from envs.workload import Event, WorkloadSpec, generate

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(raw: Any, field: str) -> float:
    """Seconds from a number or a string like `15m`, `6h`, `7d`, `2w`."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if raw < 0:
            raise ScenarioError(f"field {field!r}: duration must be >= 0, got {raw!r}")
        return float(raw)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(raw))
    if not m:
        raise ScenarioError(
            f"field {field!r}: expected a duration like 90s, 15m, 6h, 7d, got {raw!r}"
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


def _datetime(raw: Any, field: str) -> datetime:
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=None)
    try:
        return datetime.fromisoformat(str(raw)).replace(tzinfo=None)
    except ValueError:
        raise ScenarioError(f"field {field!r}: expected an ISO date-time, got {raw!r}") from None


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
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"events[{i}]: expected a mapping, got {raw!r}")
    for key in ("name", "start", "multiplier"):
        if key not in raw:
            raise ScenarioError(f"events[{i}]: missing field {key!r}")
    return Event(
        name=str(raw["name"]),
        start=_datetime(raw["start"], f"events[{i}].start"),
        multiplier=float(raw["multiplier"]),
        ramp_seconds=parse_duration(raw.get("ramp", "15m"), f"events[{i}].ramp"),
        peak_seconds=parse_duration(raw.get("peak", "1h"), f"events[{i}].peak"),
        decay_seconds=parse_duration(raw.get("decay", "1h"), f"events[{i}].decay"),
        announced=bool(raw.get("announced", True)),
    )


def _workload(raw: Any) -> WorkloadSpec:
    raw = dict(raw or {})
    known = {f.name for f in fields(WorkloadSpec)} - {"holiday_weeks"}
    unknown = sorted(set(raw) - known - {"holiday_weeks"})
    if unknown:
        raise ScenarioError(
            f"workload: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    holidays = tuple(
        (_datetime(h["start"], "workload.holiday_weeks.start"), float(h["multiplier"]))
        for h in raw.pop("holiday_weeks", [])
    )
    for key in ("daily_profile", "weekly_profile"):
        if key in raw:
            raw[key] = tuple(float(x) for x in raw[key])
    try:
        return WorkloadSpec(**raw, holiday_weeks=holidays)
    except TypeError as e:
        raise ScenarioError(f"workload: {e}") from e


def parse_scenario(raw: Any, *, base_dir: Path | None = None, name: str = "scenario") -> Scenario:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"scenario {name!r}: expected a mapping")
    name = str(raw.get("name", name))
    try:
        graph_ref = str(raw.get("graph", "boutique"))
        graph_path = (
            (base_dir / graph_ref)
            if base_dir and graph_ref.endswith((".yaml", ".yml"))
            else graph_ref
        )
        graph = load_graph(graph_path)
        tick = int(parse_duration(raw.get("tick_seconds", 60), "tick_seconds"))
        if tick <= 0:
            raise ScenarioError("field 'tick_seconds' must be > 0")
        slo_raw = raw.get("slo") or {}
        slo = Slo(
            float(slo_raw.get("p95_latency_ms", 400)), float(slo_raw.get("max_error_ratio", 0.001))
        )
        scenario = Scenario(
            name=name,
            graph=graph,
            start=_datetime(raw.get("start", "2026-11-23T00:00:00"), "start"),
            duration_seconds=int(parse_duration(raw.get("duration", "7d"), "duration")),
            history_seconds=int(parse_duration(raw.get("history", "14d"), "history")),
            tick_seconds=tick,
            slo=slo,
            prices=Prices(**(raw.get("prices") or {})),
            workload=_workload(raw.get("workload")),
            events=tuple(_event(e, i) for i, e in enumerate(raw.get("events") or [])),
        )
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"scenario {name!r}: {e}") from e
    if scenario.ticks <= 0:
        raise ScenarioError(f"scenario {name!r}: field 'duration' must be at least one tick")
    if "trace" in raw:
        scenario = _with_trace(scenario, raw, base_dir)
    return scenario


def _choice(raw: Mapping[str, Any], field: str, kind: type[GapPolicy] | type[TraceAlign],
            default: str) -> Any:
    value = str(raw.get(field, default))
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise ScenarioError(f"field {field!r} must be one of {known}, got {value!r}") from None


def _with_trace(scenario: Scenario, raw: Mapping[str, Any], base_dir: Path | None) -> Scenario:
    """The scenario with its demand imported from `trace` (see the module docstring)."""
    name = scenario.name
    trace_path = Path(str(raw["trace"]))
    if not (trace_path.is_absolute() or base_dir is None):
        trace_path = base_dir / trace_path
    first = scenario.start - timedelta(seconds=scenario.history_seconds)
    if "trace_scale" in raw and "trace_daily_peak_rps" in raw:
        raise ScenarioError(f"scenario {name!r}: give trace_scale or trace_daily_peak_rps, "
                            "not both")
    scale = float(raw.get("trace_scale", 1.0))
    peak = float(raw.get("trace_daily_peak_rps", 1.0))
    if scale <= 0 or peak <= 0:
        field = "trace_scale" if scale <= 0 else "trace_daily_peak_rps"
        raise ScenarioError(f"scenario {name!r}: field {field!r} must be > 0")
    rps = load_trace(trace_path, first, scenario.history_ticks + scenario.ticks,
                     scenario.tick_seconds,
                     gaps=_choice(raw, "trace_gaps", GapPolicy, GapPolicy.ERROR.value),
                     align=_choice(raw, "trace_align", TraceAlign, TraceAlign.CALENDAR.value))
    if "trace_smooth" in raw:
        width = int(parse_duration(raw["trace_smooth"], "trace_smooth") // scenario.tick_seconds)
        if width > 1:
            rps = np.convolve(rps, np.ones(width) / width, mode="same")
    if "trace_daily_peak_rps" in raw:
        ordinary = median_daily_peak(rps, first, scenario.tick_seconds)
        if ordinary <= 0:
            raise ScenarioError(f"scenario {name!r}: the trace has no demand to scale")
        scale = peak / ordinary
    return replace(scenario, trace_rps=rps * scale)


def load_scenario(source: str | Path) -> Scenario:
    """A scenario from a YAML file, or a built-in one by name (see `builtin_scenarios`)."""
    path = Path(source)
    if path.suffix in {".yaml", ".yml"}:
        try:
            text = path.read_text()
        except OSError as e:
            raise ScenarioError(f"scenario file {str(path)!r}: {e.strerror}") from e
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
        raise ScenarioError(f"scenario {default!r}: not valid YAML ({e})") from e
    try:
        return parse_scenario(raw, base_dir=base_dir, name=default)
    except EnvError:
        raise
    except Exception as e:  # a malformed value deep in the file: still one clear line
        raise ScenarioError(f"scenario {default!r}: {type(e).__name__}: {e}") from e


def builtin_scenarios() -> list[str]:
    files = resources.files("envs.data").iterdir()
    return sorted(f.name[9:-5] for f in files if f.name.startswith("scenario-"))
