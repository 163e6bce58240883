"""Forecast quality on held-back weeks: the quantile model against Holt-Winters and seasonal naive.

Each series is the hourly entry demand of a built-in scenario (seed 0: its 14-day history, then
the run) or of the example real trace. Models train on the history only; the held-back part
(up to `--weeks` weeks) is forecast from origins every `--every` hours, `--horizon` hours ahead,
each method seeing the demand observed up to the origin. Figures, pooled over origins:

- MASE of the P50 (scaled by seasonal naive's in-history error, weekly season);
- pinball loss (mean of tau = 0.5 on P50 and tau = 0.9 on P90) over the mean demand (%);
- P90 coverage (share of actual hours at or below the P90; 0.90 is calibrated);
- ratios of the quantile model's MASE and pinball to each baseline's (below 1: better).

    python -m bench.forecast_quality [--json FILE] [--weeks 2] [--trace FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from envs.errors import EnvError
from envs.scenario import builtin_scenarios, load_scenario
from envs.workload import Event
from scaler.errors import ScalerError
from scaler.forecast_features import HourlySeries, hourly
from scaler.forecast_score import coverage, mase, pinball, seasonal_scale
from scaler.quantile_forecast import (
    Method,
    QuantileForecast,
    QuantileForecaster,
    baseline_forecast,
    trace_series,
)

EXAMPLE_TRACE = Path(__file__).resolve().parents[1] / "examples" / "traces" / "bank-calls.csv"
SEASON_HOURS = 168
METHODS = (Method.QUANTILE, Method.HOLT_WINTERS, Method.SEASONAL_NAIVE)


@dataclass(frozen=True)
class Case:
    name: str
    series: HourlySeries
    train_hours: int
    test_hours: int
    calendar: tuple[Event, ...]


def scenario_case(name: str, weeks: int, seed: int = 0) -> Case:
    sc = load_scenario(name)
    history, run = sc.demand(seed)
    first = sc.start - timedelta(seconds=sc.history_seconds)
    series = hourly(np.concatenate([history, run]), first, sc.tick_seconds)
    train = sc.history_seconds // 3600
    return Case(name, series, train, min(len(series) - train, weeks * SEASON_HOURS), sc.calendar)


def trace_case(path: Path, weeks: int) -> Case:
    series = trace_series(path)
    test = min(weeks * SEASON_HOURS, len(series) // 3)
    return Case(f"trace:{path.name}", series, len(series) - test, test, ())


def _forecasts(case: Case, model: QuantileForecaster, origin: int,
               horizon: int) -> dict[Method, QuantileForecast]:
    seen = case.series.head(origin)
    out = {Method.QUANTILE: model.forecast(seen, case.calendar, horizon)}
    for method in (Method.HOLT_WINTERS, Method.SEASONAL_NAIVE):
        out[method] = baseline_forecast(method, seen, horizon, SEASON_HOURS)
    return out


def evaluate(case: Case, horizon: int, every: int, seed: int) -> dict[str, object]:
    model = QuantileForecaster(seed=seed, horizon_hours=horizon)
    t0 = time.perf_counter()
    model.fit(case.series.head(case.train_hours), case.calendar)
    fit_seconds = time.perf_counter() - t0
    end = case.train_hours + case.test_hours
    origins = list(range(case.train_hours, end - horizon + 1, every))
    if not origins:
        raise ValueError(f"{case.name}: held-back part ({case.test_hours} h) is shorter than "
                         f"the horizon ({horizon} h)")
    actual: list[np.ndarray] = []
    preds: dict[Method, list[QuantileForecast]] = {m: [] for m in METHODS}
    for origin in origins:
        actual.append(case.series.rps[origin : origin + horizon])
        for method, fc in _forecasts(case, model, origin, horizon).items():
            preds[method].append(fc)
    y = np.concatenate(actual)
    scale = seasonal_scale(case.series.rps[: case.train_hours], SEASON_HOURS)
    methods: dict[str, dict[str, float]] = {}
    for method, fcs in preds.items():
        p50 = np.concatenate([f.p50 for f in fcs])
        p90 = np.concatenate([f.p90 for f in fcs])
        loss = 0.5 * (pinball(y, p50, 0.5) + pinball(y, p90, 0.9))
        methods[method.value] = {"mase": mase(y, p50, scale),
                                 "pinball_pct": 100.0 * loss / float(np.mean(y)),
                                 "p90_coverage": coverage(y, p90)}
    q = methods[Method.QUANTILE.value]
    ratios = {f"{metric}_vs_{b.value}": q[metric] / max(methods[b.value][metric], 1e-12)
              for b in (Method.HOLT_WINTERS, Method.SEASONAL_NAIVE)
              for metric in ("mase", "pinball_pct")}
    return {"series": case.name, "train_hours": case.train_hours, "test_hours": case.test_hours,
            "origins": len(origins), "horizon_hours": horizon,
            "fit_seconds": round(fit_seconds, 2), "methods": methods, "ratios": ratios}


def _print(result: dict[str, object]) -> None:
    methods = result["methods"]
    ratios = result["ratios"]
    assert isinstance(methods, dict) and isinstance(ratios, dict)
    print(f"\n{result['series']}: {result['origins']} origins x {result['horizon_hours']} h, "
          f"trained on {result['train_hours']} h in {result['fit_seconds']} s")
    print(f"  {'method':<16}{'MASE':>8}{'pinball %':>11}{'P90 cover':>11}")
    for name, m in methods.items():
        print(f"  {name:<16}{m['mase']:>8.3f}{m['pinball_pct']:>11.2f}{m['p90_coverage']:>11.2f}")
    print("  quantile-mlp ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.forecast_quality", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=",".join(builtin_scenarios()),
                    help="comma-separated built-in scenarios (default: all)")
    ap.add_argument("--trace", type=Path, default=EXAMPLE_TRACE,
                    help="a real trace CSV (default: examples/traces/bank-calls.csv, if shipped)")
    ap.add_argument("--weeks", type=int, default=2, help="held-back weeks at most (default 2)")
    ap.add_argument("--horizon", type=int, default=48, help="forecast hours (default 48)")
    ap.add_argument("--every", type=int, default=24, help="hours between origins (default 24)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = ap.parse_args(argv)
    try:
        cases = [scenario_case(n.strip(), args.weeks) for n in args.scenarios.split(",") if n]
        if args.trace.exists():
            cases.append(trace_case(args.trace, args.weeks))
        else:
            print(f"note: no trace at {args.trace}; scenarios only", file=sys.stderr)
        results = [evaluate(c, args.horizon, args.every, args.seed) for c in cases]
    except (EnvError, ScalerError, ValueError) as e:
        print(f"forecast_quality: error: {e}", file=sys.stderr)
        return 2
    for r in results:
        _print(r)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
