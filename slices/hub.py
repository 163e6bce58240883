"""The hub adapter: slice state as custom resources in a hub cluster's Kubernetes API.

With `slices.hub_admin` and `slices.hub_client`, the only slices modules that import
`kubernetes`. `HubRegistry` implements
`slices.store.SliceRegistry` with one site's credentials (an administrator's for slice
create/delete); `slices.hub_admin.HubAdmin` installs the hub and onboards sites, and
`slices.hub_client` maps the apiserver's answers to slices errors.

Overlay addresses come from the slice's pool (a ConfigMap) updated with its resourceVersion as
precondition: two concurrent joins both read version N, one update wins, the other gets 409 and
allocates again from version N+1. A site's listen ports (one per slice it is in) come from its
own `listen-ports` ConfigMap the same way: two slices joined at once get two ports.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from kubernetes import client

from slices import hub_manifest as hm
from slices import ipam
from slices.errors import (
    AlreadyExistsError,
    ConflictError,
    HubUnavailableError,
    NotFoundError,
    RotationError,
)
from slices.hub_admin import HubAdmin
from slices.hub_client import TIMEOUT, api_client, hub_call
from slices.model import (
    Endpoint,
    Member,
    QosProfile,
    RotationPhase,
    ServiceExport,
    Slice,
    TopologyKind,
    free_listen_port,
    validate_name,
    validate_public_key,
)
from slices.store import Observations

CAS_ATTEMPTS = 50
Obj = dict[str, Any]


class HubRegistry:
    def __init__(self, api: client.ApiClient, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.api = api
        # the client's generated types do not fit raw dict bodies: the adapter uses them untyped
        self.custom: Any = client.CustomObjectsApi(api)
        self.core: Any = client.CoreV1Api(api)
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()
        self.ipam_conflicts = 0  # 409s this client retried (concurrent joins: pools, ports)
        self._status: dict[tuple[str, str], Any] = {}  # (slice, site) -> last seen status

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str) -> HubRegistry:
        return cls(api_client(kubeconfig))

    # -- raw object access -----------------------------------------------------------------
    def _get(self, namespace: str, kind: str, name: str) -> Obj:
        with hub_call(f"{kind} {namespace}/{name}"):
            obj: Obj = self.custom.get_namespaced_custom_object(
                hm.GROUP, hm.VERSION, namespace, hm.plural(kind), name,
                _request_timeout=TIMEOUT)
        return obj

    def _list(self, kind: str, slice_name: str | None = None,
              namespace: str | None = None) -> list[Obj]:
        selector = f"{hm.SLICE_LABEL}={slice_name}" if slice_name else ""
        with hub_call(f"list {kind}"):
            if namespace is None:
                found = self.custom.list_cluster_custom_object(
                    hm.GROUP, hm.VERSION, hm.plural(kind), label_selector=selector,
                    _request_timeout=TIMEOUT)
            else:
                found = self.custom.list_namespaced_custom_object(
                    hm.GROUP, hm.VERSION, namespace, hm.plural(kind), label_selector=selector,
                    _request_timeout=TIMEOUT)
        return list(found["items"])

    def _create(self, namespace: str, kind: str, body: Obj) -> None:
        with hub_call(f"create {kind} {namespace}/{body['metadata']['name']}"):
            self.custom.create_namespaced_custom_object(
                hm.GROUP, hm.VERSION, namespace, hm.plural(kind), body,
                _request_timeout=TIMEOUT)

    def _replace(self, namespace: str, kind: str, body: Obj) -> None:
        """Update with the body's resourceVersion as precondition (409 if someone was first)."""
        name = body["metadata"]["name"]
        with hub_call(f"update {kind} {namespace}/{name}"):
            self.custom.replace_namespaced_custom_object(
                hm.GROUP, hm.VERSION, namespace, hm.plural(kind), name, body,
                _request_timeout=TIMEOUT)

    def _delete(self, namespace: str, kind: str, name: str) -> None:
        with hub_call(f"delete {kind} {namespace}/{name}"):
            self.custom.delete_namespaced_custom_object(
                hm.GROUP, hm.VERSION, namespace, hm.plural(kind), name,
                _request_timeout=TIMEOUT)

    # -- slices ----------------------------------------------------------------------------
    def create_slice(self, name: str, cidr: IPv4Network, topology: TopologyKind,
                     hub: str | None = None, qos: QosProfile | None = None) -> Slice:
        slc = Slice(name, cidr, topology, hub, qos=qos)
        existing = {o["metadata"]["name"]: IPv4Network(o["spec"]["cidr"])
                    for o in self._list("Slice", namespace=hm.HUB_NAMESPACE)}
        if name in existing:
            raise AlreadyExistsError(f"slice {name!r} already exists: delete it or pick a name")
        ipam.check_no_overlap(cidr, existing)
        spec: Obj = {"cidr": str(cidr), "topology": topology.value}
        if hub:
            spec["hub"] = hub
        if qos:
            spec["qos"] = {"rateMbit": qos.rate_mbit}
        HubAdmin(self.api).apply(hm.slice_objects(name))
        self._create(hm.HUB_NAMESPACE, "Slice", {
            "apiVersion": f"{hm.GROUP}/{hm.VERSION}", "kind": "Slice",
            "metadata": {"name": name, "labels": {hm.SLICE_LABEL: name}}, "spec": spec})
        return slc

    def delete_slice(self, name: str) -> None:
        self._get(hm.HUB_NAMESPACE, "Slice", name)
        for kind in ("SliceMember", "SliceExport"):
            for obj in self._list(kind, name):
                self._delete(obj["metadata"]["namespace"], kind, obj["metadata"]["name"])
                site = hm.site_of_namespace(obj["metadata"]["namespace"])
                if kind == "SliceMember" and site:
                    self._update_ports(site, _without(name))
        self._delete(hm.HUB_NAMESPACE, "Slice", name)
        HubAdmin(self.api).delete_slice_objects(name)

    def slice_names(self) -> tuple[str, ...]:
        return tuple(sorted(o["metadata"]["name"]
                            for o in self._list("Slice", namespace=hm.HUB_NAMESPACE)))

    def get_slice(self, name: str) -> Slice:
        obj = self._get(hm.HUB_NAMESPACE, "Slice", name)
        spec = obj["spec"]
        pool = self._read_config_map(hm.ipam_name(name), hm.HUB_NAMESPACE,
                                     f"address pool of slice {name}").data or {}
        members: list[Member] = []
        for item in self._list("SliceMember", name):
            site = hm.site_of_namespace(item["metadata"]["namespace"])
            member = hm.member_of(site, item["spec"]) if site else None
            # a member counts only with the address the pool gave its site (no squatting)
            if member is not None and pool.get(member.site_id) == str(member.overlay_ip):
                members.append(member)
                self._status[(name, member.site_id)] = item.get("status") or {}
        qos = QosProfile(int(spec["qos"]["rateMbit"])) if spec.get("qos") else None
        return Slice(name, IPv4Network(spec["cidr"]), TopologyKind(spec["topology"]),
                     spec.get("hub"), tuple(sorted(members, key=lambda m: m.overlay_ip)), qos)

    def slices_for_site(self, site_id: str) -> tuple[Slice, ...]:
        names = sorted(o["metadata"]["name"] for o in
                       self._list("SliceMember", namespace=hm.site_namespace(site_id)))
        found = []
        for name in names:
            try:
                slc = self.get_slice(name)
            except NotFoundError:
                continue  # the slice was deleted: the agent tears its interface down
            if slc.member(site_id) is not None:  # else leaving, or its slice being deleted
                found.append(slc)
        return tuple(found)

    # -- the address pool and the listen ports ------------------------------------------------
    def _read_config_map(self, name: str, namespace: str, what: str) -> Any:
        with hub_call(what):
            return self.core.read_namespaced_config_map(name, namespace, _request_timeout=TIMEOUT)

    def _update_config_map(self, name: str, namespace: str, what: str,
                           change: Callable[[dict[str, str]], dict[str, str] | None]
                           ) -> dict[str, str]:
        """Apply `change` to a ConfigMap's data under optimistic concurrency; retry on 409.
        `change` returns None to leave it as it is."""
        for attempt in range(CAS_ATTEMPTS):
            cm = self._read_config_map(name, namespace, what)
            new = change(dict(cm.data or {}))
            if new is None:
                return dict(cm.data or {})
            cm.data = new  # cm.metadata.resourceVersion is the precondition
            try:
                with hub_call(f"update {what}"):
                    self.core.replace_namespaced_config_map(name, namespace, cm,
                                                            _request_timeout=TIMEOUT)
                return new
            except ConflictError:
                self.ipam_conflicts += 1
                self.sleep(self.rng.uniform(0, 0.005 * (attempt + 1)))
        raise HubUnavailableError(f"{what}: {CAS_ATTEMPTS} conflicting updates in a row: retry")

    def _update_pool(self, slice_name: str,
                     change: Callable[[dict[str, str]], dict[str, str] | None]) -> dict[str, str]:
        return self._update_config_map(hm.ipam_name(slice_name), hm.HUB_NAMESPACE,
                                       f"address pool of slice {slice_name}", change)

    def _update_ports(self, site_id: str,
                      change: Callable[[dict[str, str]], dict[str, str] | None]) -> dict[str, str]:
        return self._update_config_map(hm.PORTS_NAME, hm.site_namespace(site_id),
                                       f"listen ports of site {site_id}", change)

    # -- members ---------------------------------------------------------------------------
    def join(self, slice_name: str, site_id: str, host: IPv4Address, public_key: str,
             port: int | None = None) -> Member:
        validate_name("site id", site_id)
        validate_public_key(public_key)
        namespace = hm.site_namespace(site_id)
        slc = self.get_slice(slice_name)
        own = self._list("SliceMember", namespace=namespace)
        if any(o["metadata"]["name"] == slice_name for o in own):
            raise AlreadyExistsError(f"site {site_id!r} already joined slice {slice_name!r}")

        def allocate(pool: dict[str, str]) -> dict[str, str] | None:
            if site_id in pool:
                return None  # an earlier, interrupted join of this site: keep its address
            pool[site_id] = str(ipam.allocate(slc.cidr, (IPv4Address(a) for a in
                                                         pool.values())))
            return pool

        address = IPv4Address(self._update_pool(slice_name, allocate)[site_id])

        def take_port(ports: dict[str, str]) -> dict[str, str] | None:
            if port is None and slice_name in ports:
                return None  # an earlier, interrupted join of this slice: keep its port
            used = {int(p) for s, p in ports.items() if s != slice_name}
            ports[slice_name] = str(port if port is not None else free_listen_port(used))
            return ports

        chosen = int(self._update_ports(site_id, take_port)[slice_name])
        member = Member(site_id, Endpoint(host, chosen), address, public_key)
        self._create(namespace, "SliceMember", {
            "apiVersion": f"{hm.GROUP}/{hm.VERSION}", "kind": "SliceMember",
            "metadata": {"name": slice_name, "labels": {hm.SLICE_LABEL: slice_name}},
            "spec": hm.member_spec(slice_name, member)})
        return member

    def leave(self, slice_name: str, site_id: str) -> None:
        namespace = hm.site_namespace(site_id)
        self._delete(namespace, "SliceMember", slice_name)
        for obj in self._list("SliceExport", slice_name, namespace):
            self._delete(namespace, "SliceExport", obj["metadata"]["name"])
        self._update_pool(slice_name, _without(site_id))
        self._update_ports(site_id, _without(slice_name))

    def get_member(self, slice_name: str, site_id: str) -> Member:
        obj = self._get(hm.site_namespace(site_id), "SliceMember", slice_name)
        return hm.member_of(site_id, obj["spec"])

    def _update_member(self, slice_name: str, site_id: str,
                       change: Callable[[Member], Member]) -> Member:
        obj = self._get(hm.site_namespace(site_id), "SliceMember", slice_name)
        member = change(hm.member_of(site_id, obj["spec"]))
        obj["spec"] = hm.member_spec(slice_name, member)
        self._replace(hm.site_namespace(site_id), "SliceMember", obj)
        return member

    def begin_rotation(self, slice_name: str, site_id: str, next_public_key: str) -> Member:
        validate_public_key(next_public_key)

        def begin(m: Member) -> Member:
            if m.phase is not RotationPhase.NONE:
                raise RotationError(f"site {site_id!r} in slice {slice_name!r} is already "
                                    f"rotating (phase {m.phase.value}): finish it first")
            return replace(m, next_public_key=next_public_key, phase=RotationPhase.PREPARED)
        return self._update_member(slice_name, site_id, begin)

    def _step(self, slice_name: str, site_id: str, expected: RotationPhase,
              then: Callable[[Member], Member]) -> None:
        def step(m: Member) -> Member:
            if m.phase is not expected:
                raise RotationError(f"site {site_id!r} is in phase {m.phase.value}, "
                                    f"not {expected.value}")
            return then(m)
        self._update_member(slice_name, site_id, step)

    def switch(self, slice_name: str, site_id: str) -> None:
        self._step(slice_name, site_id, RotationPhase.PREPARED,
                   lambda m: replace(m, phase=RotationPhase.SWITCHED))

    def cut_over(self, slice_name: str, site_id: str) -> None:
        self._step(slice_name, site_id, RotationPhase.SWITCHED,
                   lambda m: replace(m, phase=RotationPhase.CUTOVER))

    def finish_rotation(self, slice_name: str, site_id: str) -> None:
        self._step(slice_name, site_id, RotationPhase.CUTOVER, lambda m: replace(
            m, public_key=m.next_public_key or m.public_key, next_public_key=None,
            generation=m.generation + 1, phase=RotationPhase.NONE))

    # -- observations: each site's own member status -----------------------------------------
    def record_observations(self, slice_name: str, observer: str, seen: Observations) -> None:
        observed = {site: {"generation": g, "phase": p.value} for site, (g, p) in seen.items()}
        known_observed = (self._status.get((slice_name, observer)) or {}).get("observed") or {}
        if known_observed == observed:
            return  # the hub already holds it: no write
        try:
            with hub_call(f"status of SliceMember {hm.site_namespace(observer)}/{slice_name}"):
                self.custom.patch_namespaced_custom_object_status(
                    hm.GROUP, hm.VERSION, hm.site_namespace(observer), "slicemembers",
                    slice_name, {"status": {"observed": _merge(known_observed, observed)}},
                    _request_timeout=TIMEOUT)
        except NotFoundError:
            return  # left or deleted since this pass read it: nothing to report on
        self._status.setdefault((slice_name, observer), {})["observed"] = observed

    def record_handshakes(self, slice_name: str, observer: str,
                          handshakes: dict[str, int]) -> None:
        known = (self._status.get((slice_name, observer)) or {}).get("handshakes") or {}
        if known == handshakes:
            return
        try:
            with hub_call(f"status of SliceMember {hm.site_namespace(observer)}/{slice_name}"):
                self.custom.patch_namespaced_custom_object_status(
                    hm.GROUP, hm.VERSION, hm.site_namespace(observer), "slicemembers",
                    slice_name, {"status": {"handshakes": _merge(known, handshakes)}},
                    _request_timeout=TIMEOUT)
        except NotFoundError:
            return
        self._status.setdefault((slice_name, observer), {})["handshakes"] = handshakes

    def handshakes_seen_by(self, slice_name: str, observer: str) -> dict[str, int]:
        obj = self._get(hm.site_namespace(observer), "SliceMember", slice_name)
        return {k: int(v) for k, v in ((obj.get("status") or {}).get("handshakes") or {}).items()}

    def observations_of(self, slice_name: str, member: str) -> Observations:
        found: Observations = {}
        for obj in self._list("SliceMember", slice_name):
            site = hm.site_of_namespace(obj["metadata"]["namespace"])
            seen = ((obj.get("status") or {}).get("observed") or {}).get(member)
            if site and seen:
                found[site] = (int(seen["generation"]), RotationPhase(seen["phase"]))
        return found

    # -- service exports ---------------------------------------------------------------------
    def export_service(self, export: ServiceExport) -> None:
        namespace = hm.site_namespace(export.site_id)
        self.get_member(export.slice_name, export.site_id)  # only members export
        name = f"{export.slice_name}-{export.service}"
        body: Obj = {"apiVersion": f"{hm.GROUP}/{hm.VERSION}", "kind": "SliceExport",
                     "metadata": {"name": name, "labels": {hm.SLICE_LABEL: export.slice_name}},
                     "spec": {"slice": export.slice_name, "service": export.service,
                              "port": export.port}}
        try:
            self._create(namespace, "SliceExport", body)
        except AlreadyExistsError:
            current = self._get(namespace, "SliceExport", name)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self._replace(namespace, "SliceExport", body)

    def exports_for(self, slice_name: str) -> tuple[ServiceExport, ...]:
        found = []
        for obj in self._list("SliceExport", slice_name):
            site = hm.site_of_namespace(obj["metadata"]["namespace"])
            spec = obj["spec"]
            if site and spec.get("slice") == slice_name:
                found.append(ServiceExport(slice_name, site, spec["service"], int(spec["port"])))
        return tuple(sorted(found, key=lambda e: (e.service, e.site_id)))


def _merge(known: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning map `known` into `wanted` (null deletes a key)."""
    return {**{k: None for k in known if k not in wanted}, **wanted}


def _without(key: str) -> Callable[[dict[str, str]], dict[str, str] | None]:
    """A ConfigMap change that drops `key` (None, no write, when it is not there)."""
    return lambda data: data if data.pop(key, None) is not None else None
