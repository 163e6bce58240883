"""An administrator's hub calls: install the CRDs and RBAC, onboard sites (namespace,
ServiceAccount, a TokenRequest token) and admit them to slices. `slices.hub_manifest` says what
each object is and why the RBAC keeps a site to its own member."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from slices import hub_manifest as hm
from slices.errors import AlreadyExistsError, HubUnavailableError
from slices.hub_client import TIMEOUT, hub_call
from slices.model import validate_name


class HubAdmin:
    """An administrator's calls: install the hub, onboard sites, admit them to slices."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core: Any = client.CoreV1Api(api)
        self.rbac: Any = client.RbacAuthorizationV1Api(api)
        self.ext: Any = client.ApiextensionsV1Api(api)

    def apply(self, manifests: list[hm.Manifest]) -> None:
        """Create each object; one that already exists is left as it is (idempotent)."""
        for obj in manifests:
            try:
                with hub_call(f"create {obj['kind']} {obj['metadata']['name']}"):
                    self._create(obj)
            except AlreadyExistsError:
                continue

    def _create(self, obj: hm.Manifest) -> None:
        kind, ns = obj["kind"], obj["metadata"].get("namespace")
        if kind == "CustomResourceDefinition":
            self.ext.create_custom_resource_definition(obj, _request_timeout=TIMEOUT)
        elif kind in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            api = self.core if kind == "Namespace" else self.rbac
            getattr(api, f"create_{hm.snake(kind)}")(obj, _request_timeout=TIMEOUT)
        else:
            api = self.rbac if kind.startswith("Role") else self.core
            getattr(api, f"create_namespaced_{hm.snake(kind)}")(ns, obj, _request_timeout=TIMEOUT)

    def install(self, timeout_seconds: float = 30.0) -> None:
        self.apply(hm.hub_base())
        deadline = time.monotonic() + timeout_seconds
        for obj in hm.hub_base():
            if obj["kind"] != "CustomResourceDefinition":
                continue
            while not self._established(obj["metadata"]["name"]):
                if time.monotonic() > deadline:
                    raise HubUnavailableError(f"CRD {obj['metadata']['name']} not Established")
                time.sleep(0.1)

    def _established(self, name: str) -> bool:
        with hub_call(f"CRD {name}"):
            crd = self.ext.read_custom_resource_definition(name, _request_timeout=TIMEOUT)
        return any(c.type == "Established" and c.status == "True"
                   for c in (crd.status.conditions or []))

    def onboard_site(self, site_id: str, server: str, token_seconds: int = 86400) -> str:
        """Create the site's namespace, account and RBAC; return a kubeconfig with its token."""
        validate_name("site id", site_id)
        self.apply(hm.site_objects(site_id))
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=token_seconds))
        with hub_call(f"token for site {site_id}"):
            answer = self.core.create_namespaced_service_account_token(
                hm.AGENT_ACCOUNT, hm.site_namespace(site_id), request, _request_timeout=TIMEOUT)
        return hm.kubeconfig(server, site_id, str(answer.status.token))

    def admit(self, slice_name: str, site_id: str) -> None:
        self.apply([hm.admission(slice_name, site_id)])

    def delete_slice_objects(self, slice_name: str) -> None:
        selector = f"{hm.SLICE_LABEL}={slice_name}"
        with hub_call(f"RBAC of slice {slice_name}"):
            for rb in self.rbac.list_namespaced_role_binding(
                    hm.HUB_NAMESPACE, label_selector=selector, _request_timeout=TIMEOUT).items:
                self.rbac.delete_namespaced_role_binding(rb.metadata.name, hm.HUB_NAMESPACE)
            self.rbac.delete_namespaced_role(f"edgewise-slice-{slice_name}-ipam",
                                             hm.HUB_NAMESPACE)
            self.core.delete_namespaced_config_map(hm.ipam_name(slice_name), hm.HUB_NAMESPACE)
