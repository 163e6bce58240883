"""`edgewise slice create|join|leave|status|rotate|delete|reconcile` (argparse adapter).

`add_parser(subparsers)` registers the `slice` command on the project's single `edgewise`
console script. Exit codes: 0 done, 1 the operation failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edgewise import flag_types
from edgewise.exits import Exit
from slices import health, ipam, keys, render, topology
from slices.agent import Agent, Site
from slices.errors import AlreadyExistsError, PermanentError, SliceError
from slices.host_routes import host_routes
from slices.model import BASE_LISTEN_PORT, Endpoint, TopologyKind, validate_name
from slices.registry import Registry
from slices.rotation import Rotation

DEFAULT_REGISTRY = Path(os.environ.get("EDGEWISE_REGISTRY", "/var/lib/edgewise/slices.db"))
DEFAULT_STATE_ROOT = Path("/var/lib/edgewise/sites")
Handler = Callable[[argparse.Namespace], int]


def _site(args: argparse.Namespace) -> Site:
    validate_name("site id", args.site)
    state = Path(args.state_dir) if args.state_dir else DEFAULT_STATE_ROOT / args.site
    return Site(args.site, state, args.netns)


def _guard(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except PermanentError as exc:
            print(f"edgewise slice: {exc}", file=sys.stderr)
            return Exit.USAGE  # the input or the state must change: retrying cannot help
        except SliceError as exc:
            print(f"edgewise slice: {exc}", file=sys.stderr)
            return Exit.FAILURE
    return run


def _create(args: argparse.Namespace) -> int:
    validate_name("slice name", args.name)
    kind = TopologyKind(args.topology)
    cidr = ipam.parse_cidr(args.cidr)
    ipam.check_not_host_route(cidr, host_routes())
    Registry(args.registry).create_slice(args.name, cidr, kind, args.hub)
    print(f"slice {args.name} created ({args.cidr}, {kind.value})")
    return 0


def _join(args: argparse.Namespace) -> int:
    site = _site(args)
    endpoint = Endpoint.parse(args.endpoint, default_port=BASE_LISTEN_PORT)
    chosen_port = endpoint.port if ":" in args.endpoint else None  # else: next free on site
    registry = Registry(args.registry)
    if registry.get_slice(args.name).member(site.site_id) is not None:
        raise AlreadyExistsError(f"site {site.site_id!r} already joined slice {args.name!r}: "
                                 "its keys are kept; `slice leave` first to re-join")
    key = keys.generate(site.state_dir, args.name, 0)
    try:
        member = registry.join(args.name, site.site_id, endpoint.host, key.public_key,
                               chosen_port)
    except SliceError:
        key.path.unlink()  # only the key this call made: never a live (rotated) one
        raise
    print(f"{site.site_id} joined {args.name} as {member.overlay_ip} "
          f"(public key {key.public_key})")
    if not args.no_apply:
        Agent(registry, site).reconcile()
    return 0


def _leave(args: argparse.Namespace) -> int:
    site = _site(args)
    registry = Registry(args.registry)
    registry.leave(args.name, site.site_id)
    if not args.no_apply:
        Agent(registry, site).reconcile()
    print(f"{site.site_id} left {args.name}")
    return 0


def _status(args: argparse.Namespace) -> int:
    site = _site(args)
    agent = Agent(Registry(args.registry), site)
    plan = topology.plan_site(agent.registry.get_slice(args.name), site.site_id)
    for iface in plan.interfaces:
        observed = agent.host.observe(iface.ifname)
        probes = ({p.site_id: agent.host.ping(str(p.allowed_ips[0].network_address + (
            0 if p.allowed_ips[0].prefixlen == 32 else 1))) for p in iface.peers
            if p.allowed_ips} if args.probe else None)
        rows = health.assess(iface, observed, time.time(), probes)
        state = "up" if observed.exists else "DOWN"
        print(f"slice {args.name} site {site.site_id} {iface.ifname} {iface.address} "
              f"port {iface.listen_port} gen {iface.generation} {state}")
        print(health.format_table(rows))
    return 0


def _render(args: argparse.Namespace) -> int:
    site = _site(args)
    plan = topology.plan_site(Registry(args.registry).get_slice(args.name), site.site_id)
    for iface in plan.interfaces:
        print(render.render_config(iface, keys.key_path(site.state_dir, args.name,
                                                       iface.generation)))
    return 0


def _rotate(args: argparse.Namespace) -> int:
    agent = Agent(Registry(args.registry), _site(args))
    report = Rotation(agent, args.name, timeout_seconds=args.timeout).run()
    print(f"{report.site_id} in {report.slice_name}: key generation {report.old_generation} -> "
          f"{report.new_generation} in {report.seconds:.2f}s (public key {report.public_key})")
    return 0


def _delete(args: argparse.Namespace) -> int:
    registry = Registry(args.registry)
    registry.delete_slice(args.name)
    if args.site:
        Agent(registry, _site(args)).reconcile()
    print(f"slice {args.name} deleted; each site's agent removes its interface on its next pass")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    agent = Agent(Registry(args.registry), _site(args))
    if args.loop is None:
        for change in agent.reconcile().changes:
            print(change)
        return 0
    agent.run(threading.Event(), args.loop)
    return 0


def _site_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--site", required=required, help="this site's id")
    parser.add_argument("--state-dir", help="private key and pid files (default "
                        f"{DEFAULT_STATE_ROOT}/SITE)")
    parser.add_argument("--netns", help="run WireGuard in this network namespace")


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler,
         help_text: str, site: bool | None = True) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    if name != "reconcile":
        parser.add_argument("name", help="slice name")
    if site is not None:
        _site_options(parser, required=site)
    parser.set_defaults(func=_guard(handler))
    return parser


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `slice` and its sub-commands on the `edgewise` parser."""
    parser = subparsers.add_parser("slice", help="encrypted WireGuard overlays between sites",
                                   description="Slices: one WireGuard overlay per application.")
    parser.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY,
                        help=f"slice registry SQLite file (default {DEFAULT_REGISTRY})")
    sub = parser.add_subparsers(dest="slice_command", required=True)
    create = _add(sub, "create", _create, "create a slice", site=None)
    create.add_argument("--cidr", required=True, help="overlay CIDR, e.g. 10.10.0.0/24")
    create.add_argument("--topology", choices=[k.value for k in TopologyKind],
                        default=TopologyKind.FULL_MESH.value)
    create.add_argument("--hub", help="hub site for hub-and-spoke")
    join = _add(sub, "join", _join, "make a key here and join this site to a slice")
    join.add_argument("--endpoint", required=True, help="underlay HOST[:PORT] peers dial")
    join.add_argument("--no-apply", action="store_true", help="register only")
    leave = _add(sub, "leave", _leave, "remove this site from a slice")
    leave.add_argument("--no-apply", action="store_true", help="deregister only")
    status = _add(sub, "status", _status, "per-peer handshake age, traffic, reachability")
    status.add_argument("--probe", action="store_true", help="ping every peer")
    _add(sub, "render", _render, "print this site's WireGuard config (no private key)")
    rotate = _add(sub, "rotate", _rotate, "rotate this site's key, make-before-break")
    rotate.add_argument("--timeout", type=flag_types.number(above=0, maximum=86_400),
                        default=60.0)
    _add(sub, "delete", _delete, "delete a slice (and tear down here with --site)", site=False)
    agent = _add(sub, "reconcile", _reconcile, "apply the registry to this site (the agent)")
    agent.add_argument("--loop", type=flag_types.number(above=0, maximum=86_400),
                       metavar="SECONDS", help="repeat every SECONDS")
