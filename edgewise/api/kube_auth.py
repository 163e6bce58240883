"""Kubernetes bearer tokens: TokenReview says who, SubjectAccessReview says what.

A user who may `patch` predictivescalers.edgewise.io is an operator, one who may `list` them a
viewer, one who may do neither is authenticated with no role (403); nobody is an admin through
the cluster (admin is local). Answers are cached for a few
seconds so a dashboard page does not cost a review per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.spec import GROUP, PLURAL
from edgewise.api.auth import Principal, Role
from edgewise.api.errors import SourceUnavailableError

CACHE_SECONDS = 10.0


class KubeReviewer:
    def __init__(self, api: client.ApiClient, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.authn = client.AuthenticationV1Api(api)
        self.authz = client.AuthorizationV1Api(api)
        self.clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def principal(self, token: str) -> Principal | None:
        hit = self._cache.get(token)
        if hit is not None and self.clock() - hit[0] < CACHE_SECONDS:
            return hit[1]
        found = self._review(token)
        self._cache[token] = (self.clock(), found)
        return found

    def _review(self, token: str) -> Principal | None:
        try:
            review = self.authn.create_token_review(
                client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)))
        except ApiException as e:
            raise SourceUnavailableError("kubernetes", f"TokenReview failed: {e.status}") from e
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        user, groups = str(status.user.username or ""), list(status.user.groups or [])
        for verb, role in (("patch", Role.OPERATOR), ("list", Role.VIEWER)):
            if self._allowed(user, groups, status.user.uid, verb):
                return Principal(user, role, "kubernetes")
        return Principal(user, Role.NONE, "kubernetes")

    def _allowed(self, user: str, groups: list[str], uid: Any, verb: str) -> bool:
        body = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
            user=user, groups=groups, uid=uid,
            resource_attributes=client.V1ResourceAttributes(
                group=GROUP, resource=PLURAL, verb=verb)))
        try:
            result = self.authz.create_subject_access_review(body)
        except ApiException as e:
            raise SourceUnavailableError("kubernetes",
                                         f"SubjectAccessReview failed: {e.status}") from e
        return bool(result.status and result.status.allowed)
