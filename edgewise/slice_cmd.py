"""`edgewise slice create|join|leave|status|rotate|delete|reconcile|export` (argparse adapter).

Without `--hub-config` the commands use the embedded SQLite registry (`--registry`); with
`--hub-config KUBECONFIG` they use the hub cluster's API with the credentials in that file (a site's
own token, or an administrator's for create/delete).

`add_parser(subparsers)` registers the `slice` command on the project's single `edgewise`
console script. Exit codes: 0 done, 1 the operation failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edgewise import flag_types
from edgewise.exits import Exit
from slices import health, ipam, keys, render, topology
from slices.agent import Agent, Site
from slices.backoff import Backoff
from slices.errors import (
    AlreadyExistsError,
    ForbiddenError,
    PermanentError,
    SliceError,
    TemporaryError,
    ValidationError,
)
from slices.host_routes import host_routes
from slices.model import (
    BASE_LISTEN_PORT,
    Endpoint,
    QosProfile,
    ServiceExport,
    TopologyKind,
    validate_name,
)
from slices.registry import Registry
from slices.resolver import Resolver
from slices.rotation import Rotation
from slices.store import SliceRegistry

DEFAULT_REGISTRY = Path(os.environ.get("EDGEWISE_REGISTRY", "/var/lib/edgewise/slices.db"))
DEFAULT_STATE_ROOT = Path("/var/lib/edgewise/sites")
Handler = Callable[[argparse.Namespace], int]


def _site(args: argparse.Namespace) -> Site:
    validate_name("site id", args.site)
    state = Path(args.state_dir) if args.state_dir else DEFAULT_STATE_ROOT / args.site
    return Site(args.site, state, args.netns)


def _registry(args: argparse.Namespace) -> SliceRegistry:
    if args.hub:
        from slices.hub import HubRegistry  # the kubernetes client only when asked for

        return HubRegistry.from_kubeconfig(str(args.hub))
    return Registry(args.registry)


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
    profile = QosProfile(args.qos_mbit) if args.qos_mbit is not None else None
    _registry(args).create_slice(args.name, cidr, kind, args.hub_site, profile)
    print(f"slice {args.name} created ({args.cidr}, {kind.value})")
    return 0


def _join(args: argparse.Namespace) -> int:
    site = _site(args)
    endpoint = Endpoint.parse(args.endpoint, default_port=BASE_LISTEN_PORT)
    chosen_port = endpoint.port if ":" in args.endpoint else None  # else: next free on site
    registry = _registry(args)
    deadline, failures = time.monotonic() + args.wait, 0
    key: keys.KeyRef | None = None
    try:
        while True:  # a hub that is down: retry with back-off up to --wait seconds
            try:
                if key is None:  # checked before any key is made: a joined site keeps its keys
                    if registry.get_slice(args.name).member(site.site_id) is not None:
                        raise AlreadyExistsError(
                            f"site {site.site_id!r} already joined slice {args.name!r}: its "
                            "keys are kept; `slice leave` first to re-join")
                    key = keys.generate(site.state_dir, args.name, 0)
                member = registry.join(args.name, site.site_id, endpoint.host, key.public_key,
                                       chosen_port)
                break
            # 403 too: an apiserver that has just started refuses everything until its RBAC
            # cache has synced (seen in the e2e); a real refusal still fails after --wait
            except (TemporaryError, ForbiddenError) as exc:
                failures += 1
                delay = Backoff().delay_seconds(failures)
                if time.monotonic() + delay > deadline:
                    raise
                print(f"edgewise slice: {exc}; retrying in {delay:.1f}s", file=sys.stderr,
                      flush=True)
                time.sleep(delay)
    except SliceError:
        if key is not None:
            key.path.unlink()  # only the key this call made: never a live (rotated) one
        raise
    assert key is not None  # the loop breaks only after a join with the key it made
    print(f"{site.site_id} joined {args.name} as {member.overlay_ip} "
          f"(public key {key.public_key})")
    if not args.no_apply:
        Agent(registry, site).reconcile()
    return 0


def _leave(args: argparse.Namespace) -> int:
    site = _site(args)
    registry = _registry(args)
    registry.leave(args.name, site.site_id)
    if not args.no_apply:
        Agent(registry, site).reconcile()
    print(f"{site.site_id} left {args.name}")
    return 0


def _status(args: argparse.Namespace) -> int:
    site = _site(args)
    agent = Agent(_registry(args), site)
    plan = topology.plan_site(agent.registry.get_slice(args.name), site.site_id)
    now = time.time()
    interfaces = []
    for iface in plan.interfaces:
        observed = agent.host.observe(iface.ifname)
        probes = ({p.site_id: agent.host.ping(str(p.allowed_ips[0].network_address + (
            0 if p.allowed_ips[0].prefixlen == 32 else 1))) for p in iface.peers
            if p.allowed_ips} if args.probe else None)
        rows = health.assess(iface, observed, now, probes)
        state = "up" if observed.exists else "DOWN"
        interfaces.append({"interface": iface.ifname, "address": str(iface.address),
                           "generation": iface.generation, "up": observed.exists,
                           "peers": [health.peer_document(r, now) for r in rows]})
        if not args.json:
            print(f"slice {args.name} site {site.site_id} {iface.ifname} {iface.address} "
                  f"port {iface.listen_port} gen {iface.generation} {state}")
            print(health.format_table(rows))
    if args.json:
        print(json.dumps({"kind": "SliceStatus", "slice": args.name, "site": site.site_id,
                          "observed_at": now, "interfaces": interfaces}, sort_keys=True))
    return 0


def _render(args: argparse.Namespace) -> int:
    site = _site(args)
    plan = topology.plan_site(_registry(args).get_slice(args.name), site.site_id)
    for iface in plan.interfaces:
        print(render.render_config(iface, keys.key_path(site.state_dir, args.name,
                                                       iface.generation)))
    return 0


def _log_actions() -> None:
    """Long-running commands log what they change (names and public keys, never key material)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _rotate(args: argparse.Namespace) -> int:
    _log_actions()
    agent = Agent(_registry(args), _site(args))
    report = Rotation(agent, args.name, timeout_seconds=args.timeout).run()
    print(f"{report.site_id} in {report.slice_name}: key generation {report.old_generation} -> "
          f"{report.new_generation} in {report.seconds:.2f}s (public key {report.public_key})")
    return 0


def _delete(args: argparse.Namespace) -> int:
    registry = _registry(args)
    registry.delete_slice(args.name)
    if args.site:
        Agent(registry, _site(args)).reconcile()
    print(f"slice {args.name} deleted; each site's agent removes its interface on its next pass")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    site = _site(args)
    resolver = Resolver(site.state_dir, site.netns) if args.dns else None
    agent = Agent(_registry(args), site, resolver=resolver)
    if args.loop is None:
        for change in agent.reconcile().changes:
            print(change)
        return 0
    _log_actions()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # tunnels stay up: agents restart
    agent.run(stop, args.loop)
    if resolver is not None:
        resolver.stop()
    return 0


def _export(args: argparse.Namespace) -> int:
    site = _site(args)
    export = ServiceExport(args.name, site.site_id, args.service, args.port)
    _registry(args).export_service(export)
    print(f"{site.site_id} exports {args.service}.{args.name}.slice.local (port {args.port})")
    return 0


def _hub_admin(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if not args.hub:
        raise ValidationError("this command needs --hub-config ADMIN.kubeconfig (the hub)")
    from slices.hub_admin import HubAdmin
    from slices.hub_client import api_client

    return HubAdmin(api_client(str(args.hub)))


def _hub_install(args: argparse.Namespace) -> int:
    _hub_admin(args).install()
    print("hub ready: CRDs Established, namespace and read-only ClusterRole in place")
    return 0


def _hub_add_site(args: argparse.Namespace) -> int:
    config = _hub_admin(args).onboard_site(validate_name("site id", args.site), args.server)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(config)
    print(f"site {args.site} onboarded; its kubeconfig (token inside, mode 600) is {args.out}")
    return 0


def _admit(args: argparse.Namespace) -> int:
    _hub_admin(args).admit(validate_name("slice name", args.name),
                           validate_name("site id", args.site))
    print(f"site {args.site} may now join slice {args.name}")
    return 0


def _hub_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Administrator commands for the hub (with an administrator's --hub-config)."""
    install = sub.add_parser("hub-install", help="install the slice CRDs and RBAC on the hub")
    install.set_defaults(func=_guard(_hub_install))
    add = sub.add_parser("hub-add-site", help="onboard a site: namespace, account, RBAC, token")
    add.add_argument("site", help="site id")
    add.add_argument("--server", required=True, help="hub apiserver URL the site dials")
    add.add_argument("--out", type=Path, required=True, help="write the site's kubeconfig here")
    add.set_defaults(func=_guard(_hub_add_site))
    admit = _add(sub, "admit", _admit, "let a site join a slice (its address pool)", site=None)
    admit.add_argument("--site", required=True, help="site id")


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
    parser.add_argument("--hub-config", dest="hub", type=Path,
                        default=os.environ.get("EDGEWISE_HUB_CONFIG") or None,
                        metavar="KUBECONFIG", help="use the hub cluster in this kubeconfig "
                        "(a site's own token) instead of the SQLite registry")
    sub = parser.add_subparsers(dest="slice_command", required=True)
    create = _add(sub, "create", _create, "create a slice", site=None)
    create.add_argument("--cidr", required=True, help="overlay CIDR, e.g. 10.10.0.0/24")
    create.add_argument("--topology", choices=[k.value for k in TopologyKind],
                        default=TopologyKind.FULL_MESH.value)
    create.add_argument("--hub", dest="hub_site", help="hub site for hub-and-spoke")
    create.add_argument("--qos-mbit", type=int, help="cap each site's egress into the slice")
    join = _add(sub, "join", _join, "make a key here and join this site to a slice")
    join.add_argument("--endpoint", required=True, help="underlay HOST[:PORT] peers dial")
    join.add_argument("--no-apply", action="store_true", help="register only")
    join.add_argument("--wait", type=flag_types.number(minimum=0, maximum=86_400), default=0.0,
                      metavar="SECONDS",
                      help="retry an unreachable hub with back-off for up to SECONDS")
    leave = _add(sub, "leave", _leave, "remove this site from a slice")
    leave.add_argument("--no-apply", action="store_true", help="deregister only")
    status = _add(sub, "status", _status, "per-peer handshake age, traffic, reachability")
    status.add_argument("--probe", action="store_true", help="ping every peer")
    status.add_argument("--json", action="store_true",
                        help="one JSON document (what `edgewise serve --slice-status` reads)")
    _add(sub, "render", _render, "print this site's WireGuard config (no private key)")
    rotate = _add(sub, "rotate", _rotate, "rotate this site's key, make-before-break")
    rotate.add_argument("--timeout", type=flag_types.number(above=0, maximum=86_400),
                        default=60.0)
    _add(sub, "delete", _delete, "delete a slice (and tear down here with --site)", site=False)
    agent = _add(sub, "reconcile", _reconcile, "apply the registry to this site (the agent)")
    agent.add_argument("--loop", type=flag_types.number(above=0, maximum=86_400),
                       metavar="SECONDS", help="repeat every SECONDS")
    agent.add_argument("--dns", action="store_true",
                       help="run this site's DNS forwarder for <service>.<slice>.slice.local")
    _hub_commands(sub)
    export = _add(sub, "export", _export, "offer a service of this site to its slice by name")
    export.add_argument("--service", required=True, help="service name")
    export.add_argument("--port", type=flag_types.port, required=True, help="service port")
