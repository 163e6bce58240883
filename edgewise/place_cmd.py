"""`edgewise place`: plan where each store's services run, write the plan and its manifests.

Registered on the main CLI by `add_parser(subparsers)`. Exit codes: 0 done, 2 bad input or
infeasible (one line on stderr naming the problem), 1 could not write the output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgewise.exits import Exit, fail
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
examples:
  edgewise place --topology examples/fleet-small.yaml \
      --app examples/boutique-placement.yaml --out out/
  edgewise place ... --fail-wan store-003      # re-plan after store-003's WAN is lost
  edgewise place ... --fail-site store-003     # store-003's own edge cluster is down
  edgewise place ... --degrade store-002=50%   # store-002 lost half its nodes
  edgewise place ... --why search --site store-002
"""


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
    p.add_argument("--out", metavar="DIR", help="output directory (required unless --why)")
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
    p.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS",
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


def _write(out: Path, plan: Plan, doc: dict[str, Any]) -> None:
    topo = plan.problem.ctx.topology
    (out / "manifests").mkdir(parents=True, exist_ok=True)
    (out / "karmada").mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(doc, indent=2) + "\n")
    for cluster, text in cluster_manifests(plan).items():
        (out / "manifests" / f"{cluster}.yaml").write_text(text)
    (out / "karmada" / "propagationpolicy.yaml").write_text(propagation_policies(plan))
    locations = {s.name: (s.location.lat, s.location.lon) for s in topo.stores}
    locations |= {r.name: (r.location.lat, r.location.lon) for r in topo.regions}
    (out / "plan.html").write_text(render_html(doc, locations))


def run(args: argparse.Namespace) -> int:
    try:
        plan, failover = _plan(args)
        if args.why:
            print("\n".join(why_not(plan, args.why, args.site)))
            if not args.out:
                return 0
        doc = plan_document(plan, failover)
    except PlacementError as e:
        return fail("edgewise place", str(e))
    try:
        _write(Path(args.out), plan, doc)
    except OSError as e:
        return fail("edgewise place", f"cannot write {args.out!r}: {e.strerror}", Exit.FAILURE)
    print(summary_table(doc))
    print(f"wrote {args.out}/plan.json, manifests/, karmada/, plan.html")
    return 0
