"""Who is asking, and may they: local tokens (viewer / operator / admin) and, in a cluster,
Kubernetes bearer tokens (TokenReview authenticates, SubjectAccessReview on the PredictiveScaler
resources authorizes: the cluster's RBAC decides).

Local tokens are random (`ew_` + 32 bytes), shown once and stored as their SHA-256 only (a
random 256-bit secret needs no slow hash: there is nothing to guess).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from edgewise.api.store import Store

LOCAL_PREFIX = "ew_"
MAX_CACHED = 10_000


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
    """Who a bearer token is. A local token's answer is remembered for `cache_seconds` (by its
    hash), so a dashboard's requests do not each cost a store read."""

    def __init__(self, store: Store, kube: KubeAuthorizer | None = None,
                 clock: Callable[[], float] = time.monotonic, cache_seconds: float = 10.0
                 ) -> None:
        self.store, self.kube, self.clock, self.cache_seconds = store, kube, clock, cache_seconds
        self._local: dict[str, tuple[float, Principal | None]] = {}

    def cached(self, token: str | None) -> Principal | None | bool:
        """The answer without any I/O, or False when it needs `principal`."""
        if not token or len(token) > 8192:
            return None
        if not token.startswith(LOCAL_PREFIX):
            return False
        hit = self._local.get(token_hash(token))
        if hit is not None and self.clock() - hit[0] < self.cache_seconds:
            return hit[1]
        return False

    def principal(self, token: str | None) -> Principal | None:
        if not token or len(token) > 8192:
            return None
        if token.startswith(LOCAL_PREFIX):
            digest = token_hash(token)
            found = self.store.token(digest)
            who = Principal(found[0], Role.parse(found[1]), "local") if found else None
            if len(self._local) >= MAX_CACHED:
                self._local.clear()
            self._local[digest] = (self.clock(), who)
            return who
        return self.kube.principal(token) if self.kube is not None else None
