"""What the hub cluster holds for slices, as Kubernetes objects: CRDs, namespaces, RBAC. Pure.

Layout (one hub cluster, Kubernetes >= 1.20):
- namespace `edgewise-slices`: one `Slice` per slice (CIDR, topology, QoS; written by
  administrators only) and its address pool, the ConfigMap `ipam-<slice>` (site -> overlay IP,
  updated with resourceVersion preconditions, so concurrent joins never collide);
- namespace `edgewise-site-<site>` per site: its ServiceAccount `agent`, the site's own
  `SliceMember` (one per slice, named after the slice: public key, endpoint, overlay IP,
  rotation phase; status: what it observed of its peers) and `SliceExport` objects, and its
  listen ports, the ConfigMap `listen-ports` (slice -> UDP port, updated with resourceVersion
  preconditions like a pool, so a site joining two slices at once never gets one port twice).

RBAC: a site's token may write only in its own namespace (a Role; of ConfigMaps, only get and
update its `listen-ports`), read every Slice, member and
export (a ClusterRole: public data only), and get/update the address pool of the slices it was
admitted to (a Role with `resourceNames`, one RoleBinding per admission). So site A's token
gets 403 writing site B's member: B's namespace grants A nothing.
"""

from __future__ import annotations

from typing import Any

import yaml

from slices.errors import ValidationError
from slices.model import Member

GROUP = "slices.edgewise.io"
VERSION = "v1alpha1"
HUB_NAMESPACE = "edgewise-slices"
AGENT_ACCOUNT = "agent"
READER_ROLE = "edgewise-slice-reader"
SITE_ROLE = "edgewise-site-agent"
SLICE_LABEL = f"{GROUP}/slice"
SITE_LABEL = f"{GROUP}/site"
_SITE_PREFIX = "edgewise-site-"
Manifest = dict[str, Any]


def site_namespace(site_id: str) -> str:
    return f"{_SITE_PREFIX}{site_id}"


def site_of_namespace(namespace: str) -> str | None:
    return namespace[len(_SITE_PREFIX):] if namespace.startswith(_SITE_PREFIX) else None


def ipam_name(slice_name: str) -> str:
    return f"ipam-{slice_name}"


PORTS_NAME = "listen-ports"


def _s(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, **extra}


_ENDPOINT = _s("object", required=["host", "port"], properties={
    "host": _s("string"), "port": _s("integer", minimum=1, maximum=65535)})
_OBSERVED = _s("object", additionalProperties=_s("object", properties={
    "generation": _s("integer"), "phase": _s("string")}))
_SCHEMAS: dict[str, dict[str, Any]] = {
    "Slice": {"spec": _s("object", required=["cidr", "topology"], properties={
        "cidr": _s("string"), "topology": _s("string", enum=["full-mesh", "hub-and-spoke"]),
        "hub": _s("string"),
        "qos": _s("object", properties={"rateMbit": _s("integer", minimum=1)})})},
    "SliceMember": {
        "spec": _s("object", required=["slice", "endpoint", "overlayIP", "publicKey"],
                   properties={
                       "slice": _s("string"), "endpoint": _ENDPOINT, "overlayIP": _s("string"),
                       "publicKey": _s("string"), "generation": _s("integer", minimum=0),
                       "nextPublicKey": _s("string"),
                       "phase": _s("string",
                                   enum=["none", "prepared", "switched", "cutover"])}),
        "status": _s("object", properties={
            "observed": _OBSERVED,
            "handshakes": _s("object", additionalProperties=_s("integer"))})},
    "SliceExport": {"spec": _s("object", required=["slice", "service", "port"], properties={
        "slice": _s("string"), "service": _s("string"),
        "port": _s("integer", minimum=1, maximum=65535)})},
}
_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "Slice": [("CIDR", ".spec.cidr"), ("Topology", ".spec.topology"),
              ("QoS-Mbit", ".spec.qos.rateMbit")],
    "SliceMember": [("Slice", ".spec.slice"), ("Overlay", ".spec.overlayIP"),
                    ("Endpoint", ".spec.endpoint.host"), ("Phase", ".spec.phase")],
    "SliceExport": [("Slice", ".spec.slice"), ("Service", ".spec.service"),
                    ("Port", ".spec.port")],
}


def plural(kind: str) -> str:
    return kind.lower() + "s"


def crd(kind: str) -> Manifest:
    properties = _SCHEMAS[kind]
    version: dict[str, Any] = {
        "name": VERSION, "served": True, "storage": True,
        "schema": {"openAPIV3Schema": _s("object", properties=properties)},
        "additionalPrinterColumns": [
            {"name": n, "type": "integer" if n in ("Port", "QoS-Mbit") else "string",
             "jsonPath": p} for n, p in _COLUMNS[kind]],
    }
    if "status" in properties:
        version["subresources"] = {"status": {}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural(kind)}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural(kind),
                               "singular": kind.lower(), "listKind": f"{kind}List"},
                     "versions": [version]}}


def _rule(resources: list[str], verbs: list[str], group: str = GROUP,
          names: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": [group], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def _binding(kind: str, name: str, namespace: str | None, role_kind: str, role: str,
             site_id: str) -> Manifest:
    meta: dict[str, Any] = {"name": name, "labels": {SITE_LABEL: site_id}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                        "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": AGENT_ACCOUNT,
                          "namespace": site_namespace(site_id)}]}


def hub_base() -> list[Manifest]:
    """The CRDs, the hub namespace and the read-only ClusterRole every site binds."""
    reader = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": {"name": READER_ROLE},
              "rules": [_rule(["slices", "slicemembers", "sliceexports"],
                              ["get", "list", "watch"])]}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HUB_NAMESPACE}}
    return [*(crd(k) for k in _SCHEMAS), namespace, reader]


def site_objects(site_id: str) -> list[Manifest]:
    """A site's namespace, ServiceAccount, listen ports, write Role there and read
    ClusterRoleBinding."""
    ns = site_namespace(site_id)
    own = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
           "metadata": {"name": SITE_ROLE, "namespace": ns},
           "rules": [_rule(["slicemembers", "slicemembers/status", "sliceexports"],
                           ["get", "list", "watch", "create", "update", "patch", "delete"]),
                     _rule(["configmaps"], ["get", "update"], group="", names=[PORTS_NAME])]}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {SITE_LABEL: site_id}}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": AGENT_ACCOUNT, "namespace": ns}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": PORTS_NAME, "namespace": ns}, "data": {}},
        own,
        _binding("RoleBinding", SITE_ROLE, ns, "Role", SITE_ROLE, site_id),
        _binding("ClusterRoleBinding", f"edgewise-site-{site_id}-reader", None, "ClusterRole",
                 READER_ROLE, site_id),
    ]


def slice_objects(slice_name: str) -> list[Manifest]:
    """A slice's address pool and the Role that lets admitted sites update it (only it)."""
    pool = ipam_name(slice_name)
    return [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": pool, "namespace": HUB_NAMESPACE,
                      "labels": {SLICE_LABEL: slice_name}}, "data": {}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": f"edgewise-slice-{slice_name}-ipam", "namespace": HUB_NAMESPACE,
                      "labels": {SLICE_LABEL: slice_name}},
         "rules": [_rule(["configmaps"], ["get", "update"], group="", names=[pool])]},
    ]


def admission(slice_name: str, site_id: str) -> Manifest:
    """The RoleBinding that admits `site_id` to `slice_name` (its address pool)."""
    binding = _binding("RoleBinding", f"edgewise-slice-{slice_name}-{site_id}", HUB_NAMESPACE,
                       "Role", f"edgewise-slice-{slice_name}-ipam", site_id)
    binding["metadata"]["labels"][SLICE_LABEL] = slice_name
    return binding


def member_spec(slice_name: str, m: Member) -> Manifest:
    """A `SliceMember` spec: public data only (the model has no private key to put in)."""
    spec: Manifest = {"slice": slice_name,
                      "endpoint": {"host": str(m.endpoint.host), "port": m.endpoint.port},
                      "overlayIP": str(m.overlay_ip), "publicKey": m.public_key,
                      "generation": m.generation, "phase": m.phase.value}
    if m.next_public_key:
        spec["nextPublicKey"] = m.next_public_key
    return spec


def member_of(site_id: str, spec: Manifest) -> Member:
    """The member a spec describes; `site_id` comes from the object's namespace, not the spec."""
    endpoint = spec.get("endpoint")
    missing = [k for k in ("overlayIP", "publicKey") if k not in spec]
    if not isinstance(endpoint, dict) or missing:
        raise ValidationError(f"site {site_id}: SliceMember spec lacks "
                              f"{', '.join(missing) or 'endpoint'}")
    return Member.parse(site_id, endpoint.get("host"), endpoint.get("port"), spec["overlayIP"],
                        spec["publicKey"], spec.get("generation", 0), spec.get("nextPublicKey"),
                        spec.get("phase", "none"))


def snake(kind: str) -> str:
    """`ClusterRoleBinding` -> `cluster_role_binding`, as the client's method names spell it."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")


def kubeconfig(server: str, site_id: str, token: str) -> str:
    """The site's kubeconfig. The lab's apiserver has a self-signed serving certificate, so
    this skips verification; a real hub puts its CA here instead."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": site_id,
        "clusters": [{"name": "hub", "cluster": {"server": server,
                                                 "insecure-skip-tls-verify": True}}],
        "users": [{"name": site_id, "user": {"token": token}}],
        "contexts": [{"name": site_id, "context": {"cluster": "hub", "user": site_id}}]})
