"""`edgewise forecast` and `edgewise plan`: registered by `add_parser(subparsers)`.

Exit codes: 0 success, 2 bad input (one line on stderr naming it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgewise import flag_types
from edgewise.exits import Exit, fail
from edgewise.outputs import claim_dir

EXIT_OK, EXIT_USAGE = Exit.OK, Exit.USAGE


def _fail(message: str) -> int:
    return fail("edgewise", message)


def _hours(raw: str) -> int:
    from envs.errors import ScenarioError
    from envs.scenario import parse_duration

    try:
        seconds = parse_duration(raw, "horizon")
    except ScenarioError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0 or seconds % 3600:
        raise argparse.ArgumentTypeError(f"horizon must be whole hours > 0, got {raw!r}")
    return int(seconds // 3600)


MAX_WHAT_IFS = 100
FORECAST_FILES = ("forecast.csv", "forecast.html")
PLAN_FILES = ("plan.csv", "sweep.csv", "plan.json", "plan.html", "keda-scaledobjects.yaml",
              "hpa-patches.yaml")


def _floats(*, above: float | None = None, minimum: float | None = None,
            maximum: float | None = None) -> Any:
    """Comma-separated finite numbers within the bounds (at most MAX_WHAT_IFS of them)."""
    one = flag_types.number(above=above, minimum=minimum, maximum=maximum)

    def parse(raw: str) -> tuple[float, ...]:
        parts = [x.strip() for x in raw.split(",") if x.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected at least one number, got {raw!r}")
        if len(parts) > MAX_WHAT_IFS:
            raise argparse.ArgumentTypeError(f"at most {MAX_WHAT_IFS} values, got {len(parts)}")
        try:
            return tuple(one(x) for x in parts)
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"{raw!r}: {e}") from None

    parse.__name__ = "numbers"
    return parse


def cmd_forecast(args: argparse.Namespace) -> int:
    from envs.errors import EnvError
    from evaluation.forecast_report import write_forecast_csv, write_forecast_html
    from scaler.errors import ModelUnavailableError, ScalerError
    from scaler.quantile_forecast import (
        Method,
        QuantileForecast,
        QuantileForecaster,
        baseline_forecast,
        calendar_naive_forecast,
        trace_series,
    )

    path = Path(args.trace)
    out = Path(args.out)
    claim_dir(out, FORECAST_FILES, force=args.force, inputs=[path])
    try:
        series = trace_series(path)
        model = QuantileForecaster(seed=args.seed, horizon_hours=min(args.horizon, 48))
        try:
            model.fit(series, ())
            main = model.forecast(series, (), args.horizon)
        except ModelUnavailableError as e:
            print(f"edgewise: warning: {e}; falling back to seasonal naive", file=sys.stderr)
            main = calendar_naive_forecast(series, (), args.horizon)
        baselines: list[QuantileForecast] = [
            baseline_forecast(Method.SEASONAL_NAIVE, series, args.horizon)]
        try:
            baselines.append(baseline_forecast(Method.HOLT_WINTERS, series, args.horizon))
        except ScalerError as e:
            print(f"edgewise: note: Holt-Winters skipped: {e}", file=sys.stderr)
    except (EnvError, ScalerError) as e:
        return _fail(str(e))
    out.mkdir(parents=True, exist_ok=True)
    write_forecast_csv(main, baselines, out / "forecast.csv")
    write_forecast_html(series, main, baselines, out / "forecast.html", path.name)
    print(f"{main.method.value}: {args.horizon} h from {main.start.isoformat()}, "
          f"P50 peak {main.p50.max():,.1f} rps, P90 peak {main.p90.max():,.1f} rps")
    print(f"wrote {out}/forecast.csv, forecast.html")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from envs.errors import EnvError
    from envs.scenario import load_scenario
    from planning.errors import PlanError
    from planning.plan import PlanSettings, Reactive, make_plan, sweep
    from planning.report import write_plan
    from scaler.errors import ScalerError

    settings = PlanSettings(headroom=args.headroom, burst_quantile=args.burst_quantile,
                            seed=args.seed, event=args.event,
                            reactive=Reactive(args.reactive), uplifts=args.uplifts,
                            shifts_hours=args.shifts)
    claim_dir(Path(args.out), PLAN_FILES, force=args.force, inputs=[args.scenario])
    try:
        scenario = load_scenario(args.scenario)
        plan = make_plan(scenario, settings)
        points = sweep(scenario, plan, jobs=args.jobs)
    except (EnvError, ScalerError, PlanError) as e:
        return _fail(str(e))
    files = write_plan(plan, points, scenario.graph, Path(args.out), namespace=args.namespace,
                       timezone=args.timezone)
    _print_sweep(points)
    print(f"wrote {args.out}/{', '.join(files)}")
    return EXIT_OK


def _print_sweep(points: Sequence[Any]) -> None:
    print(f"{'uplift':>7}{'shift h':>9}{'violation min':>15}{'event min':>11}{'cost':>10}")
    for p in points:
        print(f"{p.uplift:>6g}x{p.shift_hours:>+9g}{p.violation_minutes:>15.0f}"
              f"{p.event_violation_minutes:>11.0f}{p.cost:>10.2f}")


def add_parser(subparsers: Any) -> None:
    fc = subparsers.add_parser(
        "forecast", help="forecast demand from a trace: P50/P90 and baselines",
        description="Train the calendar-aware quantile model (P50, P90) on a trace CSV and "
        "forecast the hours after its end, beside seasonal naive and Holt-Winters; write "
        "forecast.csv and forecast.html to --out. The trace needs 8 days or more.")
    fc.add_argument("--trace", required=True,
                    help="trace CSV (timestamp[,rate], see envs/trace.py)")
    fc.add_argument("--horizon", type=_hours, default=48, help="how far ahead, e.g. 48h, 2d "
                    "(at most 7d; default 48h)")
    fc.add_argument("--seed", type=flag_types.seed, default=0, help="training seed (default 0)")
    fc.add_argument("--out", required=True, help="output directory: forecast.csv, "
                    "forecast.html; existing ones refused unless --force, never the --trace")
    fc.add_argument("--force", action="store_true", help="replace existing output files")
    fc.set_defaults(func=cmd_forecast)

    pl = subparsers.add_parser(
        "plan", help="per-hour minimum replicas for an announced event, what-ifs and YAML",
        description="Plan minimum replicas per service and hour for a scenario's announced "
        "event from the P90 forecast x headroom (the twin's own SLO sizing), sweep what-ifs "
        "(event uplift, arriving early or late) through the twin, and write plan.csv, "
        "sweep.csv, plan.json, plan.html, keda-scaledobjects.yaml and hpa-patches.yaml.")
    pl.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    pl.add_argument("--event", help="announced event to plan for (default: the first in the run)")
    pl.add_argument("--headroom", type=flag_types.number(above=0, maximum=100), default=1.1,
                    help="planned demand = headroom x P90 x burst (default 1.1)")
    pl.add_argument("--burst-quantile", type=flag_types.number(minimum=0.5, maximum=1.0),
                    default=0.9,
                    help="quantile over past days of each hour's largest tick over the smooth "
                         "demand, sizing what an hourly forecast hides (default 0.9)")
    pl.add_argument("--uplifts", type=_floats(above=0, maximum=1_000),
                    default=tuple(float(k) for k in range(1, 11)),
                    help="what-if event multipliers, x the daily peak (default 1,2,...,10)")
    pl.add_argument("--shifts", type=_floats(minimum=-168, maximum=168),
                    default=(-2.0, 0.0, 2.0),
                    help="what-if event start shifts in hours (default -2,0,2)")
    pl.add_argument("--reactive", choices=[r.value for r in _reactive()], default="none",
                    help="what-ifs run the plan alone (none, default) or with the CPU HPA "
                    "above it (hpa, slower)")
    pl.add_argument("--seed", type=flag_types.seed, default=0,
                    help="demand noise and training seed")
    pl.add_argument("--jobs", type=flag_types.jobs, default=1,
                    help="what-if runs in parallel processes")
    pl.add_argument("--namespace", type=flag_types.dns_label, default="default",
                    help="namespace for the YAML (a DNS-1123 label)")
    pl.add_argument("--timezone", type=flag_types.timezone, default="Etc/UTC",
                    help="cron timezone, an IANA name (default Etc/UTC)")
    pl.add_argument("--out", required=True, help="output directory: plan.csv, sweep.csv, "
                    "plan.json, plan.html, keda-scaledobjects.yaml, hpa-patches.yaml; existing "
                    "ones refused unless --force, other files left alone")
    pl.add_argument("--force", action="store_true", help="replace existing output files")
    pl.set_defaults(func=cmd_plan)


def _reactive() -> list[Any]:
    from planning.plan import Reactive

    return list(Reactive)
