"""`edgewise place`: plan where each store's services run, write the plan and its manifests.

Registered on the main CLI by `add_parser(subparsers)`. Exit codes: 0 done, 2 bad input,
infeasible or an output it may not write (one line on stderr naming the problem), 1 a bug.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgewise import flag_types
from edgewise.exits import fail
from edgewise.outputs import OwnedFiles, claim_dir
from placement.errors import PlacementError
from placement.explain import check_why, why_not
from placement.failover import Failover, parse_degrade, replan
from placement.framework import Context, Failures
from placement.heuristic import solve_heuristic
from placement.manifests import cluster_manifests, propagation_policies
from placement.mapview import render_html
from placement.milp import solve_milp
from placement.plan import Plan
from placement.plugins import default_framework
from placement.report import plan_document, summary_table
from placement.requirements import load_app
from placement.topology import Topology, load_topology

_EPILOG = """\
outputs in --out DIR:
  plan.json                      the plan (schema: placement/schema/plan.schema.json)
  manifests/<cluster>.yaml       Deployments and Services per store / region cluster
  karmada/propagationpolicy.yaml one Karmada PropagationPolicy per service
  plan.html                      a self-contained map of stores and assignments
  .edgewise-outputs              the files this run wrote (so the next run can tell stale ones)
into an existing --out: files it would replace are refused unless --force; with --force, the
manifests of an earlier `place` there for clusters no longer in the fleet are removed, and a
manifests/*.yaml it has no record of is refused (remove it or use a fresh --out).
site (store, region) names must be DNS-1123 labels: they become file and cluster names.
examples:
  edgewise place --topology examples/fleet-small.yaml \
      --app examples/boutique-placement.yaml --out out/
  edgewise place ... --fail-wan store-003      # re-plan after store-003's WAN is lost
  edgewise place ... --fail-site store-003     # store-003's own edge cluster is down
  edgewise place ... --degrade store-002=50%   # store-002 lost half its nodes
  edgewise place ... --why search --site store-002
"""


_FIXED = ("plan.json", "plan.html", "karmada/propagationpolicy.yaml")


def add_parser(subparsers: Any) -> None:
    """Register `place` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "place", help="place services on store edge clusters and cloud regions",
        description="Choose, for every store, which services run in the store and which in its "
                    "home cloud region: minimising compute cost, shopper latency, WAN traffic "
                    "and outage exposure subject to capacity, latency bounds, GPU, PII-local and "
                    "offline requirements.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topology", required=True, metavar="FILE", help="fleet topology YAML")
    p.add_argument("--app", required=True, metavar="FILE",
                   help="service graph YAML with placement annotations (or a built-in name)")
    p.add_argument("--out", metavar="DIR", help="output directory (required unless --why); see "
                   "below for what it replaces")
    p.add_argument("--force", action="store_true",
                   help="replace the outputs of an earlier run in --out (stale manifests removed)")
    p.add_argument("--solver", choices=["milp", "heuristic"], default="milp",
                   help="milp: exact (HiGHS); heuristic: fast, reports its gap to the LP bound")
    p.add_argument("--fail-wan", action="append", default=[], metavar="SITE",
                   help="re-plan with this store's WAN lost (repeatable)")
    p.add_argument("--fail-region", action="append", default=[], metavar="R",
                   help="re-plan with this cloud region down (repeatable)")
    p.add_argument("--fail-site", action="append", default=[], metavar="STORE",
                   help="re-plan with this store's edge cluster down: shoppers served from the "
                        "cloud where the app allows, store-only services lost (repeatable)")
    p.add_argument("--degrade", action="append", default=[], metavar="STORE=P%",
                   help="re-plan with this store's edge cluster short of P%% of its CPU, memory "
                        "and GPUs (nodes lost; repeatable)")
    p.add_argument("--why", metavar="SERVICE", help="explain why SERVICE is (not) on --site")
    p.add_argument("--site", metavar="SITE", help="a store or region name, with --why")
    p.add_argument("--time-limit", type=flag_types.number(above=0, maximum=86_400),
                   default=60.0, metavar="SECONDS",
                   help="MILP time limit (default 60)")
    p.set_defaults(func=run)


def _failures(topo: Topology, args: argparse.Namespace) -> Failures:
    for store in args.fail_wan:
        topo.store(store)
    for region in args.fail_region:
        topo.region(region)
    for store in args.fail_site:
        topo.store(store)
    degraded = dict(parse_degrade(d) for d in args.degrade)
    for store in degraded:
        topo.store(store)
    return Failures(frozenset(args.fail_wan), frozenset(args.fail_region),
                    frozenset(args.fail_site), tuple(sorted(degraded.items())))


def _plan(args: argparse.Namespace) -> tuple[Plan, Failover | None]:
    if args.why and not args.site:
        raise PlacementError("--why needs --site SITE (a store or region name)")
    if not args.out and not args.why:
        raise PlacementError("--out DIR is required (unless --why)")
    if args.out:  # fail before solving; the manifests are checked once their names are known
        claim_dir(Path(args.out), _FIXED, force=args.force, inputs=(args.topology, args.app))
    topo = load_topology(args.topology)
    app = load_app(args.app)
    failures = _failures(topo, args)
    if args.why:
        check_why(topo, app, args.why, args.site)
    problem = default_framework().build(Context(topo, app))
    plan = (solve_milp(problem, time_limit_seconds=args.time_limit) if args.solver == "milp"
            else solve_heuristic(problem))
    if failures:
        f = replan(plan, failures)
        return f.after, f
    return plan, None


def _files(plan: Plan, doc: dict[str, Any]) -> dict[str, str]:
    """Every file of the run, by its path relative to --out."""
    topo = plan.problem.ctx.topology
    files = {"plan.json": json.dumps(doc, indent=2, allow_nan=False) + "\n"}
    for cluster, text in cluster_manifests(plan).items():
        files[f"manifests/{cluster}.yaml"] = text
    files["karmada/propagationpolicy.yaml"] = propagation_policies(plan)
    locations = {s.name: (s.location.lat, s.location.lon) for s in topo.stores}
    locations |= {r.name: (r.location.lat, r.location.lon) for r in topo.regions}
    files["plan.html"] = render_html(doc, locations)
    return files


def _write(out: Path, files: dict[str, str], force: bool,
           inputs: tuple[str, ...]) -> list[str]:
    """Write `files` into `out`, replacing an earlier run's (with `force`); returns the stale
    files removed. Nothing is written outside `out`: names are checked to stay inside it."""
    root = out.resolve()
    for rel in files:
        if not (root / rel).resolve().is_relative_to(root):
            raise PlacementError(f"output {rel!r} would be written outside --out {str(out)!r}")
    claim_dir(out, list(files), force=force, inputs=inputs)
    owned = OwnedFiles(out, "place")
    owned.check_unrecorded("manifests", "*.yaml", list(files))
    (out / "manifests").mkdir(parents=True, exist_ok=True)
    (out / "karmada").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (out / rel).write_text(text)
    return owned.replace(list(files))


def run(args: argparse.Namespace) -> int:
    try:
        plan, failover = _plan(args)
        if args.why:
            print("\n".join(why_not(plan, args.why, args.site)))
            if not args.out:
                return 0
        doc = plan_document(plan, failover)
        stale = _write(Path(args.out), _files(plan, doc), args.force,
                       (args.topology, args.app))
    except PlacementError as e:
        return fail("edgewise place", str(e))
    print(summary_table(doc))
    removed = f"; removed stale {', '.join(stale)}" if stale else ""
    print(f"wrote {args.out}/plan.json, manifests/, karmada/, plan.html{removed}")
    return 0
