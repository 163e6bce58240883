"""The `edgewise` command: one console script, a subcommand per job.

Exit codes: 0 success, 2 bad input (a flag, a file, a scenario: one line on stderr naming it),
1 an unexpected failure (a bug: one line saying where to report it; `--debug` adds the traceback).

`main` is the one top-level handler: every error of the input kind (a domain error, an OSError on
an input or output, a file that is not text, a registry that is not a database) becomes exit 2 and
one line naming the path or field.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

from edgewise import flag_types
from edgewise.exits import Exit, one_line
from edgewise.outputs import OutputError, claim_dir, claim_file
from envs.errors import EnvError
from envs.textfile import describe_decode_error, describe_os_error
from faults import PermanentError
from placement.errors import PlacementError

if TYPE_CHECKING:
    from envs.scenario import Scenario
    from evaluation.compare import Arm

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = Exit.OK, Exit.FAILURE, Exit.USAGE
BUG_REPORT = ("this is a bug in edgewise: please report it on the Edgewise issue tracker with the "
              "command line and the output of `edgewise --debug ...`")
INPUT_ERRORS = (EnvError, PlacementError, PermanentError, OutputError)
RESULT_FILES = ("results.json", "timeline.csv", "report.html")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def _policies(raw: str) -> list[str]:
    from evaluation.compare import BASELINES

    names = [p.strip() for p in raw.split(",") if p.strip()]
    unknown = [p for p in names if p not in BASELINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown policy {unknown[0] if unknown else raw!r} (known: {', '.join(BASELINES)})"
        )
    return names


def _progress(total: int, desc: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="tick",
        unit_scale=True,
        file=sys.stderr,
        mininterval=0.5,
        disable=None,
    )


def _arms(args: argparse.Namespace) -> tuple[Scenario, list[str | Arm]]:
    """The policies, or with --topology each policy in each placement variant of one store."""
    from envs.scenario import load_scenario
    from evaluation.compare import Arm

    scenario = load_scenario(args.scenario)
    if args.policies is None:
        from evaluation.compare import BASELINES

        args.policies = list(BASELINES)
    if args.topology is None:
        return scenario, list(args.policies)
    from placement.requirements import load_app
    from placement.simulate import parse_outage, placed_runs, store_scenario
    from placement.topology import load_topology

    topology = load_topology(args.topology)
    app = load_app(args.app)
    store = args.store or topology.store_names[0]
    outage = parse_outage(args.wan_outage) if args.wan_outage else None
    scenario = store_scenario(scenario, app, topology, store)
    runs = placed_runs(scenario, topology, app, store, outage)
    return scenario, [Arm(f"{p}@{r.variant}", p, r.config, r.unreachable)
                      for p in args.policies for r in runs]


def _scenario_inputs(args: argparse.Namespace) -> list[str | None]:
    return [args.scenario, getattr(args, "topology", None), getattr(args, "app", None)]


def cmd_bench(args: argparse.Namespace) -> int:
    from evaluation.compare import run_bench, write_outputs

    claim_dir(Path(args.out), RESULT_FILES, force=args.force, inputs=_scenario_inputs(args))
    scenario, arms = _arms(args)
    with _progress(scenario.ticks * len(arms), f"bench {scenario.name}") as bar:
        bench = run_bench(scenario, arms, args.seed, jobs=args.jobs, on_ticks=bar.update)
    res = write_outputs(bench, Path(args.out))
    _print_table(res)
    print(f"wrote {args.out}/results.json, timeline.csv, report.html")
    return EXIT_OK


def _print_table(res: dict[str, object]) -> None:
    policies = res["policies"]
    assert isinstance(policies, dict)
    print(
        f"{'policy':<16}{'violation min':>14}{'event min':>10}{'p95 ms':>9}{'replica h':>11}"
        f"{'cost':>10}"
    )
    for name, s in policies.items():
        print(
            f"{name:<16}{s['slo_violation_minutes']:>14.0f}{s['event_slo_violation_minutes']:>10.0f}"
            f"{s['p95_latency_ms']:>9.0f}{s['replica_hours']:>11.0f}{s['cost']:>10.2f}"
        )


def cmd_simulate(args: argparse.Namespace) -> int:
    from envs.scenario import load_scenario
    from evaluation.compare import run_bench, write_timeline

    out = Path(args.out)
    claim_file(out, force=args.force, inputs=[args.scenario])
    scenario = load_scenario(args.scenario)
    with _progress(scenario.ticks, f"simulate {args.policy}") as bar:
        bench = run_bench(scenario, [args.policy], args.seed, on_ticks=bar.update)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_timeline(bench, out)
    print(json.dumps({args.policy: bench.episodes[0].summary.__dict__}, indent=2,
                     allow_nan=False))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edgewise",
        description=(
            "Predictive autoscaling and edge placement for retail Kubernetes fleets. "
            "Scenarios: a built-in name (normal-week, black-friday, flash-sale, holiday-season) "
            "or a scenario YAML file."
        ),
    )
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error, print the traceback")
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, parser_class=_Parser),
    )

    bench = sub.add_parser(
        "bench",
        help="compare scaling policies on one seeded scenario",
        description="Run every policy on the same seeded scenario in the twin; "
        "write results.json, timeline.csv and report.html to --out.",
    )
    bench.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    bench.add_argument(
        "--policies",
        type=_policies,
        default=None,
        help="comma-separated policies (default: every baseline, and rl and rl-raw with the "
        "shipped default model when torch is installed)",
    )
    bench.add_argument("--seed", type=flag_types.seed, default=0,
                       help="demand noise seed (default 0)")
    bench.add_argument(
        "--jobs",
        type=flag_types.jobs,
        default=min(os.cpu_count() or 1, flag_types.MAX_JOBS),
        help="policies run in parallel worker processes (default: CPU count)",
    )
    bench.add_argument("--out", required=True,
                       help="output directory: results.json, timeline.csv, report.html; "
                       "existing ones are refused unless --force, other files are left alone")
    bench.add_argument("--force", action="store_true", help="replace existing output files")
    placed = bench.add_argument_group(
        "placements", "compare where services run, for the shoppers of one store: each policy "
        "runs with all services in cloud (@all-cloud), at the edge where they fit (@edge-fit) and "
        "in the Edgewise MILP plan (@edgewise); demand is scaled to the store's demand_rps")
    placed.add_argument("--topology", help="fleet topology YAML (enables the comparison)")
    placed.add_argument("--app", default="boutique",
                        help="service graph with placement annotations (default: boutique)")
    placed.add_argument("--store", help="the store whose shoppers are measured (default: first)")
    placed.add_argument("--wan-outage", metavar="START/DURATION",
                        help="the store's WAN is down, e.g. 2026-11-27T02:00/2h")
    bench.set_defaults(func=cmd_bench)

    sim = sub.add_parser("simulate", help="run one policy on one scenario, write a timeline CSV")
    sim.add_argument("--scenario", required=True, help="built-in scenario name or YAML file")
    sim.add_argument(
        "--policy", default="hpa", type=lambda s: _policies(s)[0], help="policy name (default hpa)"
    )
    sim.add_argument("--seed", type=flag_types.seed, default=0)
    sim.add_argument("--out", required=True, help="timeline CSV path (an existing file is "
                     "refused unless --force; never the scenario itself)")
    sim.add_argument("--force", action="store_true", help="replace an existing --out file")
    sim.set_defaults(func=cmd_simulate)

    from edgewise.controller_cmd import add_parser as add_controller
    from edgewise.model_cmd import add_parser as add_model
    from edgewise.place_cmd import add_parser as add_place
    from edgewise.plan_cmd import add_parser as add_planning
    from edgewise.serve_cmd import add_parser as add_serve
    from edgewise.shop_cmd import add_parser as add_shop
    from edgewise.slice_cmd import add_parser as add_slice
    from edgewise.slo_cmd import add_parser as add_slo
    from edgewise.train_cmd import add_parser as add_training

    add_training(sub)
    add_model(sub)
    add_planning(sub)
    add_controller(sub)
    add_place(sub)
    add_slice(sub)
    add_slo(sub)
    add_serve(sub)
    add_shop(sub)
    return parser


def _input_problem(e: BaseException, args: argparse.Namespace) -> str | None:
    """The one line for an error of the input kind, or None if `e` is a bug."""
    if isinstance(e, INPUT_ERRORS):
        return str(e)
    if isinstance(e, OSError):
        where = " -> ".join(repr(str(f)) for f in (e.filename, e.filename2) if f is not None)
        return f"{where}: {describe_os_error(e)}" if where else describe_os_error(e)
    if isinstance(e, UnicodeDecodeError):
        return f"an input is {describe_decode_error(e)}"
    if isinstance(e, sqlite3.DatabaseError):
        registry = getattr(args, "registry", None)
        return f"registry {str(registry)!r}: {e}" if registry else f"database: {e}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # a usage error (2) or --help (0): a code, also when called in-process
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the parsed command `args.func(args)` under the one top-level handler."""
    try:
        code: int = args.func(args)
    except Exception as e:  # the one top-level handler: input problems exit 2, bugs exit 1
        problem = _input_problem(e, args)
        if getattr(args, "debug", False):
            traceback.print_exc()
        if problem is not None:
            print(f"edgewise: error: {one_line(problem)}", file=sys.stderr)
            return EXIT_USAGE
        print(f"edgewise: internal error: {type(e).__name__}: {one_line(str(e))[:300]} "
              f"({BUG_REPORT})", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
