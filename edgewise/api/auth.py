"""Who is asking, and may they: local tokens (viewer / operator / admin) and, in a cluster,
Kubernetes bearer tokens (TokenReview authenticates, SubjectAccessReview on the PredictiveScaler
resources authorizes: the cluster's RBAC decides).

Local tokens are random (`ew_` + 32 bytes), shown once and stored as their SHA-256 only (a
random 256-bit secret needs no slow hash: there is nothing to guess).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from edgewise.api.store import Store

LOCAL_PREFIX = "ew_"


class Role(IntEnum):
    NONE = 0  # authenticated (by the cluster) but granted nothing: 403, not 401
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, raw: str) -> Role:
        try:
            role = cls[raw.upper()]
        except KeyError:
            role = cls.NONE
        if role is cls.NONE:
            raise ValueError(f"unknown role {raw!r} (viewer, operator, admin)")
        return role

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    source: str  # "local" or "kubernetes"


class KubeAuthorizer(Protocol):
    """TokenReview + SubjectAccessReview (edgewise/api/kube_auth.py): the role the cluster's
    RBAC grants this bearer token on PredictiveScalers, or None if it is not authenticated."""

    def principal(self, token: str) -> Principal | None: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str, role: Role) -> str:
    """A new local token; the caller shows it once. Only its hash is stored."""
    token = LOCAL_PREFIX + secrets.token_urlsafe(32)
    store.add_token(name, role.label, token_hash(token))
    return token


class Authenticator:
    def __init__(self, store: Store, kube: KubeAuthorizer | None = None) -> None:
        self.store, self.kube = store, kube

    def principal(self, token: str | None) -> Principal | None:
        if not token or len(token) > 8192:
            return None
        if token.startswith(LOCAL_PREFIX):
            found = self.store.token(token_hash(token))
            return Principal(found[0], Role.parse(found[1]), "local") if found else None
        return self.kube.principal(token) if self.kube is not None else None
