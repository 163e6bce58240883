"""What every request handler gets: the store, the authenticator, the readings, the audit log;
and the FastAPI dependencies that resolve who is asking."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from edgewise.api.auth import Authenticator, Principal, Role
from edgewise.api.errors import ApiError
from edgewise.api.readings import Readings
from edgewise.api.slicestatus import SliceStatusFiles
from edgewise.api.store import Store

COOKIE = "edgewise_token"


@dataclass
class Context:
    store: Store
    auth: Authenticator
    readings: Readings
    audit_log: Path | None = None
    slices: SliceStatusFiles = field(default_factory=lambda: SliceStatusFiles(()))

    def audit(self, who: Principal, action: str, target: str, before: Any, after: Any
              ) -> dict[str, Any]:
        entry = self.store.audit(f"{who.source}:{who.name}", action, target, before, after)
        if self.audit_log is not None:
            with self.audit_log.open("a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        return entry


async def context(request: Request) -> Context:
    ctx = request.app.state.context
    assert isinstance(ctx, Context)
    return ctx


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


async def principal(request: Request, ctx: Annotated[Context, Depends(context)]
                    ) -> Principal | None:
    """Without I/O when the answer is cached; else read in a worker thread (the store, or a
    TokenReview), never blocking the event loop."""
    token = bearer(request)
    hit = ctx.auth.cached(token)
    if hit is not False:
        assert hit is None or isinstance(hit, Principal)
        return hit
    return await asyncio.to_thread(ctx.auth.principal, token)


def need(role: Role) -> Any:
    async def check(who: Annotated[Principal | None, Depends(principal)]) -> Principal:
        if who is None:
            raise ApiError(401, "a bearer token is required (Authorization: Bearer ...)",
                           "authorization")
        if who.role < role:
            raise ApiError(403, f"{who.name} is a {who.role.label}; this needs {role.label}",
                           "authorization")
        return who
    return Depends(check)


VIEWER, OPERATOR, ADMIN = need(Role.VIEWER), need(Role.OPERATOR), need(Role.ADMIN)
