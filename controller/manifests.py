"""Everything `deploy/` holds, rendered from code: CRD, least-privilege RBAC, Deployment,
kustomize base. `edgewise manifests --out deploy/` writes them; tests compare with golden files
and server-side dry-run them against a real apiserver."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import yaml

from controller.crd import crd_manifest
from controller.spec import GROUP, PLURAL

NAMESPACE = "edgewise-system"
NAME = "edgewise-controller"
# The Deployment names the image logically; kustomize's `images:` maps it to what
# `scripts/build-image` prints (a fully qualified local name: the CRI would turn a bare name into
# docker.io/library/... and try to pull it). Pushing to your own registry: override `images:`.
IMAGE = "edgewise"
IMAGE_NAME = "localhost/edgewise/edgewise"
IMAGE_TAG = version("edgewise")  # the project version, as the script tags it
LEASE = "edgewise-controller-leader"

Manifest = dict[str, Any]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Manifest:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def rbac() -> list[Manifest]:
    labels = {"app.kubernetes.io/name": NAME}
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": labels}
    cluster_rules = [
        _rule([GROUP], [PLURAL], ["get", "list", "watch", "patch"]),  # patch: the finalizer
        _rule([GROUP], [f"{PLURAL}/status"], ["get", "patch", "update"]),
        _rule(["apps"], ["deployments", "statefulsets"], ["get", "list"]),
        _rule(["apps"], ["deployments/scale", "statefulsets/scale"], ["get", "patch", "update"]),
        _rule(["autoscaling"], ["horizontalpodautoscalers"], ["get", "list", "patch"]),
        _rule([""], ["events"], ["create", "patch"]),
        _rule([""], ["configmaps"], ["get"]),
    ]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": NAME, "labels": labels}, "rules": cluster_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "verbs": ["create"]},
                   {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "resourceNames": [LEASE], "verbs": ["get", "update"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
    ]


def _probe(path: str) -> Manifest:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 10,
            "failureThreshold": 3}


def deployment() -> Manifest:
    labels = {"app.kubernetes.io/name": NAME}
    container = {
        "name": "controller", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
        "args": ["controller", "--metrics-address", "0.0.0.0", "--metrics-port", "8080",
                 "--lease-namespace", NAMESPACE, "--lease-name", LEASE,
                 "--decision-log", "/var/log/edgewise/decisions.jsonl"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "livenessProbe": _probe("/healthz"), "readinessProbe": _probe("/readyz"),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                      "limits": {"memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "decisions", "mountPath": "/var/log/edgewise"}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "serviceAccountName": NAME,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": [{"name": "decisions", "emptyDir": {}}]}},
        },
    }


def namespace() -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def kustomization() -> Manifest:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "namespace": NAMESPACE,
            "resources": ["namespace.yaml", "crd.yaml", "rbac.yaml", "deployment.yaml"],
            "images": [{"name": IMAGE, "newName": IMAGE_NAME, "newTag": IMAGE_TAG}]}


def _dump(docs: list[Manifest]) -> str:
    header = "# Generated by `edgewise manifests`; do not edit by hand.\n"
    return header + "---\n".join(yaml.safe_dump(d, sort_keys=False, width=100) for d in docs)


def render() -> dict[str, str]:
    """File name -> content of the kustomize base in deploy/."""
    return {
        "namespace.yaml": _dump([namespace()]),
        "crd.yaml": _dump([crd_manifest()]),
        "rbac.yaml": _dump(rbac()),
        "deployment.yaml": _dump([deployment()]),
        "kustomization.yaml": _dump([kustomization()]),
    }


def all_objects() -> list[Manifest]:
    return [namespace(), crd_manifest(), *rbac(), deployment()]
