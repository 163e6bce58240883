"""The embedded slice registry: slices, members and public keys in one SQLite file.

The single-host default adapter of `slices.store.SliceRegistry` (sites that are network
namespaces of one machine); sites on separate machines use the hub (`slices.hub`).

WAL mode plus `BEGIN IMMEDIATE` transactions make concurrent writers (agents on several sites
sharing the file, CLI calls) safe: each write is one short serialised transaction, readers never
block. The schema has no column for a private key, and `join` accepts only a valid public key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from slices import ipam
from slices.errors import (
    AlreadyExistsError,
    NotFoundError,
    RegistryBusyError,
    RotationError,
    ValidationError,
)
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slices (
  name TEXT PRIMARY KEY, cidr TEXT NOT NULL, topology TEXT NOT NULL, hub TEXT,
  qos_rate_mbit INTEGER);
CREATE TABLE IF NOT EXISTS members (
  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,
  site_id TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
  overlay_ip TEXT NOT NULL, public_key TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0,
  next_public_key TEXT, phase TEXT NOT NULL DEFAULT 'none',
  PRIMARY KEY (slice, site_id), UNIQUE (slice, overlay_ip));
CREATE TABLE IF NOT EXISTS observations (
  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,
  observer TEXT NOT NULL, member TEXT NOT NULL, generation INTEGER NOT NULL,
  phase TEXT NOT NULL, PRIMARY KEY (slice, observer, member));
CREATE TABLE IF NOT EXISTS handshakes (
  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,
  observer TEXT NOT NULL, peer TEXT NOT NULL, epoch INTEGER NOT NULL,
  PRIMARY KEY (slice, observer, peer));
CREATE TABLE IF NOT EXISTS exports (
  slice TEXT NOT NULL REFERENCES slices(name) ON DELETE CASCADE,
  site_id TEXT NOT NULL, service TEXT NOT NULL, port INTEGER NOT NULL,
  PRIMARY KEY (slice, service));
"""
_MEMBER_COLUMNS = "site_id, host, port, overlay_ip, public_key, generation, next_public_key, phase"


class Registry:
    def __init__(self, path: Path, timeout_seconds: float = 10.0) -> None:
        self.path = path
        self.timeout_seconds = timeout_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            columns = {r[1] for r in db.execute("PRAGMA table_info(slices)")}
            if "qos_rate_mbit" not in columns:  # a registry made before QoS profiles
                db.execute("ALTER TABLE slices ADD COLUMN qos_rate_mbit INTEGER")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout_seconds, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.rollback()
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryBusyError(f"registry {self.path} is busy: retry") from exc
            raise
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # -- slices --------------------------------------------------------------------------
    def create_slice(self, name: str, cidr: IPv4Network, topology: TopologyKind,
                     hub: str | None = None, qos: QosProfile | None = None) -> Slice:
        slc = Slice(name, cidr, topology, hub, qos=qos)
        with self._write() as db:
            rows = db.execute("SELECT name, cidr FROM slices").fetchall()
            existing = {n: IPv4Network(c) for n, c in rows}
            if name in existing:
                raise AlreadyExistsError(f"slice {name!r} already exists: delete it or pick a name")
            ipam.check_no_overlap(cidr, existing)
            db.execute("INSERT INTO slices VALUES (?, ?, ?, ?, ?)",
                       (name, str(cidr), topology.value, hub, qos.rate_mbit if qos else None))
        return slc

    def delete_slice(self, name: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM slices WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"slice {name!r} does not exist")

    def slice_names(self) -> tuple[str, ...]:
        with self._read() as db:
            return tuple(r[0] for r in db.execute("SELECT name FROM slices ORDER BY name"))

    def get_slice(self, name: str) -> Slice:
        with self._read() as db:
            return self._load(db, name)

    def slices_for_site(self, site_id: str) -> tuple[Slice, ...]:
        with self._read() as db:
            names = [r[0] for r in db.execute(
                "SELECT slice FROM members WHERE site_id = ? ORDER BY slice", (site_id,))]
            return tuple(self._load(db, n) for n in names)

    def _load(self, db: sqlite3.Connection, name: str) -> Slice:
        row = db.execute("SELECT cidr, topology, hub, qos_rate_mbit FROM slices WHERE name = ?",
                         (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"slice {name!r} does not exist: create it first")
        rows = db.execute(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE slice = ? ORDER BY rowid", (name,))
        try:
            members = tuple(_member(r) for r in rows)
            qos = QosProfile(row[3]) if row[3] is not None else None
            return Slice(name, IPv4Network(row[0]), TopologyKind(row[1]), row[2], members, qos)
        except (ValidationError, ValueError, TypeError) as exc:
            raise ValidationError(f"registry {self.path}: slice {name!r} holds invalid data "
                                  f"({exc}); fix or re-create it") from exc

    # -- members ---------------------------------------------------------------------------
    def join(self, slice_name: str, site_id: str, host: IPv4Address, public_key: str,
             port: int | None = None) -> Member:
        validate_name("site id", site_id)
        validate_public_key(public_key)
        with self._write() as db:
            slc = self._load(db, slice_name)
            if slc.member(site_id) is not None:
                raise AlreadyExistsError(f"site {site_id!r} already joined slice {slice_name!r}")
            address = ipam.allocate(slc.cidr, (m.overlay_ip for m in slc.members))
            chosen = port if port is not None else _free_port(db, site_id)
            member = Member(site_id, Endpoint(host, chosen), address, public_key)
            db.execute(
                "INSERT INTO members (slice, site_id, host, port, overlay_ip, public_key) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (slice_name, site_id, str(host), chosen, str(address), public_key))
        return member

    def leave(self, slice_name: str, site_id: str) -> None:
        with self._write() as db:
            cur = db.execute("DELETE FROM members WHERE slice = ? AND site_id = ?",
                             (slice_name, site_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"site {site_id!r} is not in slice {slice_name!r}")
            db.execute("DELETE FROM observations WHERE slice = ? AND (observer = ? OR member = ?)",
                       (slice_name, site_id, site_id))
            db.execute("DELETE FROM exports WHERE slice = ? AND site_id = ?",
                       (slice_name, site_id))
            db.execute("DELETE FROM handshakes WHERE slice = ? AND (observer = ? OR peer = ?)",
                       (slice_name, site_id, site_id))

    # -- rotation --------------------------------------------------------------------------
    def begin_rotation(self, slice_name: str, site_id: str, next_public_key: str) -> Member:
        validate_public_key(next_public_key)
        with self._write() as db:
            member = self._member_in(db, slice_name, site_id)
            if member.phase is not RotationPhase.NONE:
                raise RotationError(f"site {site_id!r} in slice {slice_name!r} is already "
                                    f"rotating (phase {member.phase.value}): finish it first")
            db.execute("UPDATE members SET next_public_key = ?, phase = ? "
                       "WHERE slice = ? AND site_id = ?",
                       (next_public_key, RotationPhase.PREPARED.value, slice_name, site_id))
        return self.get_member(slice_name, site_id)

    def switch(self, slice_name: str, site_id: str) -> None:
        self._set_phase(slice_name, site_id, RotationPhase.PREPARED, RotationPhase.SWITCHED)

    def cut_over(self, slice_name: str, site_id: str) -> None:
        self._set_phase(slice_name, site_id, RotationPhase.SWITCHED, RotationPhase.CUTOVER)

    def finish_rotation(self, slice_name: str, site_id: str) -> None:
        with self._write() as db:
            member = self._member_in(db, slice_name, site_id)
            if member.phase is not RotationPhase.CUTOVER:
                raise RotationError(f"site {site_id!r} is in phase {member.phase.value}, "
                                    "not cutover")
            db.execute("UPDATE members SET public_key = next_public_key, next_public_key = NULL,"
                       " generation = generation + 1, phase = 'none' "
                       "WHERE slice = ? AND site_id = ?", (slice_name, site_id))

    def _set_phase(self, slice_name: str, site_id: str, expected: RotationPhase,
                   phase: RotationPhase) -> None:
        with self._write() as db:
            member = self._member_in(db, slice_name, site_id)
            if member.phase is not expected:
                raise RotationError(f"site {site_id!r} is in phase {member.phase.value}, "
                                    f"not {expected.value}")
            db.execute("UPDATE members SET phase = ? WHERE slice = ? AND site_id = ?",
                       (phase.value, slice_name, site_id))

    def get_member(self, slice_name: str, site_id: str) -> Member:
        with self._read() as db:
            return self._member_in(db, slice_name, site_id)

    def _member_in(self, db: sqlite3.Connection, slice_name: str, site_id: str) -> Member:
        row = db.execute(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE slice = ? AND site_id = ?",
                         (slice_name, site_id)).fetchone()
        if row is None:
            raise NotFoundError(f"site {site_id!r} is not in slice {slice_name!r}")
        try:
            return _member(row)
        except (ValidationError, ValueError, TypeError) as exc:
            raise ValidationError(f"registry {self.path}: slice {slice_name!r} member "
                                  f"{site_id!r} holds invalid data ({exc})") from exc

    # -- observations: what each agent last applied about each member ----------------------
    def record_observations(self, slice_name: str, observer: str,
                            seen: dict[str, tuple[int, RotationPhase]]) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM slices WHERE name = ?", (slice_name,)).fetchone():
                db.executemany(
                    "INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?, ?)",
                    [(slice_name, observer, m, g, p.value) for m, (g, p) in seen.items()])

    def observations_of(self, slice_name: str, member: str) -> dict[str, tuple[int, RotationPhase]]:
        with self._read() as db:
            rows = db.execute("SELECT observer, generation, phase FROM observations "
                              "WHERE slice = ? AND member = ?", (slice_name, member)).fetchall()
        return {o: (g, RotationPhase(p)) for o, g, p in rows}

    def record_handshakes(self, slice_name: str, observer: str,
                          handshakes: dict[str, int]) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM slices WHERE name = ?", (slice_name,)).fetchone():
                db.executemany("INSERT OR REPLACE INTO handshakes VALUES (?, ?, ?, ?)",
                               [(slice_name, observer, p, e) for p, e in handshakes.items()])

    def handshakes_seen_by(self, slice_name: str, observer: str) -> dict[str, int]:
        with self._read() as db:
            rows = db.execute("SELECT peer, epoch FROM handshakes WHERE slice = ? AND "
                              "observer = ?", (slice_name, observer)).fetchall()
        return {p: int(e) for p, e in rows}

    # -- service exports ---------------------------------------------------------------------
    def export_service(self, export: ServiceExport) -> None:
        with self._write() as db:
            self._member_in(db, export.slice_name, export.site_id)
            db.execute("INSERT OR REPLACE INTO exports VALUES (?, ?, ?, ?)",
                       (export.slice_name, export.site_id, export.service, export.port))

    def exports_for(self, slice_name: str) -> tuple[ServiceExport, ...]:
        with self._read() as db:
            rows = db.execute("SELECT site_id, service, port FROM exports WHERE slice = ? "
                              "ORDER BY service", (slice_name,)).fetchall()
        return tuple(ServiceExport(slice_name, s, n, p) for s, n, p in rows)


def _member(row: tuple[str, str, int, str, str, int, str | None, str]) -> Member:
    return Member.parse(*row)


def _free_port(db: sqlite3.Connection, site_id: str) -> int:
    used = {r[0] for r in db.execute("SELECT port FROM members WHERE site_id = ?", (site_id,))}
    return free_listen_port(used)
