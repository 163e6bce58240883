"""Slices: per-peer handshake age and traffic, from the files `edgewise slice status --json`
writes (one per site and slice; a timer on the site refreshes them, e.g. `edgewise slice status
--json ... > f.tmp && mv f.tmp f`). Each file is read again when it changes; one that does not
parse (half written) is named as a problem until it does. A handshake's age is counted to now,
not to when the file was written, so a file that stops being refreshed shows its peers going
stale."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

STALE_AFTER_SECONDS = 180  # WireGuard rejects sessions older than 180 s (slices.health)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class PeerIn(_Model):
    site_id: str = Field(max_length=253)
    public_key: str = Field(max_length=64)
    endpoint: str = Field(max_length=300)
    latest_handshake_epoch: int | None = Field(None, ge=0)
    rx_bytes: int = Field(ge=0)
    tx_bytes: int = Field(ge=0)
    reachable: bool | None = None
    state: str = Field(max_length=32)


class InterfaceIn(_Model):
    interface: str = Field(max_length=15)
    address: str = Field(max_length=64)
    generation: int = Field(ge=0)
    up: bool
    peers: list[PeerIn]


class SliceStatusIn(_Model):
    kind: str = Field(pattern="^SliceStatus$")
    slice: str = Field(max_length=253)
    site: str = Field(max_length=253)
    observed_at: float = Field(ge=0)
    interfaces: list[InterfaceIn]


@dataclass(frozen=True)
class PeerRow:
    slice: str
    site: str
    interface: str
    peer: str
    endpoint: str
    handshake_age_seconds: float | None
    rx_bytes: int
    tx_bytes: int
    state: str  # healthy, stale, no-handshake, missing (as slices.health), or down


def rows(doc: SliceStatusIn, now_epoch: float) -> list[PeerRow]:
    out = []
    for iface in doc.interfaces:
        for p in iface.peers:
            age = (None if p.latest_handshake_epoch is None
                   else max(now_epoch - p.latest_handshake_epoch, 0.0))
            if not iface.up:
                state = "down"
            elif p.state == "missing":
                state = "missing"
            elif age is None:
                state = "no-handshake"
            else:
                state = "stale" if age > STALE_AFTER_SECONDS else "healthy"
            out.append(PeerRow(doc.slice, doc.site, iface.interface, p.site_id, p.endpoint, age,
                               p.rx_bytes, p.tx_bytes, state))
    return out


class SliceStatusFiles:
    """The status files given to `edgewise serve --slice-status`; a file that cannot be read
    or parsed is reported by name, the others still shown."""

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self.paths = paths
        self._cache: dict[Path, tuple[float, SliceStatusIn | str]] = {}

    def _read(self, path: Path) -> SliceStatusIn | str:
        try:
            mtime = os.stat(path).st_mtime
        except OSError as e:
            return f"{path}: {e.strerror}"
        hit = self._cache.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        try:
            raw: Any = json.loads(path.read_text())
            got: SliceStatusIn | str = SliceStatusIn.model_validate(raw)
        except (OSError, ValueError) as e:
            got = f"{path}: {e.errors()[0]['msg'] if isinstance(e, ValidationError) else e}"
        self._cache[path] = (mtime, got)
        return got

    def read(self, now_epoch: float) -> tuple[list[PeerRow], list[str], dict[str, float]]:
        """(peer rows, problems, each site/slice's file age in seconds)."""
        peers: list[PeerRow] = []
        problems: list[str] = []
        ages: dict[str, float] = {}
        for path in self.paths:
            got = self._read(path)
            if isinstance(got, str):
                problems.append(got)
                continue
            peers += rows(got, now_epoch)
            ages[f"{got.slice}/{got.site}"] = max(now_epoch - got.observed_at, 0.0)
        return peers, problems, ages
