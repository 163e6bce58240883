"""The server's own store: tokens (hashes only), operator feedback, the audit log, bench runs,
event plans (and who acknowledged them), placement plans and demo samples. SQLAlchemy 2; SQLite
file by default (created 0600), PostgreSQL by URL. The schema is made by the Alembic migrations
in `migrations/`, never by `create_all`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Float, Integer, String, Text, create_engine, func, insert, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    pass


class TokenRow(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[str] = mapped_column(String(32))


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(63))
    scaler: Mapped[str] = mapped_column(String(253))
    decision: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[str] = mapped_column(String(32))


class AuditRow(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(253))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320))
    before_json: Mapped[str] = mapped_column(Text)
    after_json: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(32))


class RunRow(Base):
    __tablename__ = "bench_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scenario: Mapped[str] = mapped_column(String(100))
    results_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))


class PlanRow(Base):
    """An event plan of `edgewise plan` (plan.json and plan.csv as written) and who
    acknowledged it."""

    __tablename__ = "event_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    app: Mapped[str] = mapped_column(String(63))
    plan_json: Mapped[str] = mapped_column(Text)
    plan_csv: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    acknowledged_by: Mapped[str | None] = mapped_column(String(253), nullable=True)
    acknowledged_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_scaler: Mapped[str | None] = mapped_column(String(320), nullable=True)


class PlacementRow(Base):
    """A placement plan.json of `edgewise place` and its sites' (lat, lon)."""

    __tablename__ = "placements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    doc_json: Mapped[str] = mapped_column(Text)
    locations_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))


class SampleRow(Base):
    """A point of a demo series: per tick, e.g. requests, errors, demand_rps."""

    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(64))
    at_epoch: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)


def _secure_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLAlchemy opens it (and tighten an existing one)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return
    path = Path(u.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision."""
    _secure_sqlite_file(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(self, url: str, clock: Callable[[], datetime] = _now) -> None:
        _secure_sqlite_file(url)
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        self.clock = clock

    def stamp(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as s, s.begin():
            yield s

    # tokens
    def add_token(self, name: str, role: str, token_sha256: str) -> None:
        with self.session() as s:
            s.add(TokenRow(name=name, role=role, token_sha256=token_sha256,
                           created_at=self.stamp()))

    def token(self, token_sha256: str) -> tuple[str, str] | None:
        with self.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_sha256 == token_sha256))
            return (row.name, row.role) if row else None

    # audit
    def audit(self, actor: str, action: str, target: str, before: Any, after: Any
              ) -> dict[str, Any]:
        row = AuditRow(actor=actor, action=action, target=target,
                       before_json=json.dumps(before, sort_keys=True),
                       after_json=json.dumps(after, sort_keys=True), at=self.stamp())
        with self.session() as s:
            s.add(row)
            s.flush()
            return _audit_dict(row)

    def audit_log(self, limit: int) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [_audit_dict(r) for r in rows]

    # feedback
    def add_feedback(self, **fields: str) -> dict[str, Any]:
        row = FeedbackRow(created_at=self.stamp(), **fields)
        with self.session() as s:
            s.add(row)
            s.flush()
            return _feedback_dict(row)

    def feedback(self) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(FeedbackRow).order_by(FeedbackRow.id))
            return [_feedback_dict(r) for r in rows]

    # bench runs
    def put_run(self, name: str, scenario: str, results: dict[str, Any]) -> None:
        with self.session() as s:
            old = s.scalar(select(RunRow).where(RunRow.name == name))
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(RunRow(name=name, scenario=scenario, results_json=json.dumps(results),
                         created_at=self.stamp()))

    def runs(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_run_dict(r) for r in s.scalars(select(RunRow).order_by(RunRow.name))]

    def run(self, name: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.scalar(select(RunRow).where(RunRow.name == name))
            return _run_dict(row) if row else None

    # event plans
    def put_plan(self, name: str, app: str, plan_json: str, plan_csv: str) -> None:
        digest = hashlib.sha256((plan_json + "\0" + plan_csv).encode()).hexdigest()
        with self.session() as s:
            old = s.scalar(select(PlanRow).where(PlanRow.name == name))
            if old is not None and old.sha256 == digest:
                return  # the same plan again keeps its acknowledgement
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(PlanRow(name=name, app=app, plan_json=plan_json, plan_csv=plan_csv,
                          sha256=digest, created_at=self.stamp()))

    def plans(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_plan_dict(r) for r in s.scalars(select(PlanRow).order_by(PlanRow.name))]

    def plan(self, name: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.scalar(select(PlanRow).where(PlanRow.name == name))
            return _plan_dict(row) if row else None

    def acknowledge_plan(self, name: str, who: str, scaler: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.scalar(select(PlanRow).where(PlanRow.name == name))
            assert row is not None
            row.acknowledged_by, row.acknowledged_at = who, self.stamp()
            row.acknowledged_scaler = scaler
            s.flush()
            return _plan_dict(row)

    # placements
    def put_placement(self, name: str, doc: dict[str, Any],
                      locations: dict[str, tuple[float, float]]) -> None:
        with self.session() as s:
            old = s.scalar(select(PlacementRow).where(PlacementRow.name == name))
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(PlacementRow(name=name, doc_json=json.dumps(doc),
                               locations_json=json.dumps(locations), created_at=self.stamp()))

    def placements(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [{"name": r.name, "created_at": r.created_at, "plan": json.loads(r.doc_json),
                     "locations": {k: tuple(v) for k, v in json.loads(r.locations_json).items()}}
                    for r in s.scalars(select(PlacementRow).order_by(PlacementRow.name))]

    # samples
    def put_samples(self, app: str, name: str, points: Sequence[tuple[int, float]]) -> None:
        if not points:
            return
        with self.session() as s:
            s.execute(insert(SampleRow), [{"app": app, "name": name, "at_epoch": t, "value": v}
                                          for t, v in points])

    def samples(self, app: str, name: str, start_epoch: int, end_epoch: int
                ) -> list[tuple[int, float]]:
        with self.session() as s:
            q = select(SampleRow.at_epoch, SampleRow.value).where(
                SampleRow.app == app, SampleRow.name == name,
                SampleRow.at_epoch >= start_epoch, SampleRow.at_epoch <= end_epoch
            ).order_by(SampleRow.at_epoch)
            return [(int(t), float(v)) for t, v in s.execute(q)]

    def sample_sum(self, app: str, name: str, start_epoch: int, end_epoch: int) -> float:
        with self.session() as s:
            q = select(func.coalesce(func.sum(SampleRow.value), 0.0)).where(
                SampleRow.app == app, SampleRow.name == name,
                SampleRow.at_epoch > start_epoch, SampleRow.at_epoch <= end_epoch)
            return float(s.scalar(q) or 0.0)

    def sample_apps(self) -> list[str]:
        with self.session() as s:
            return sorted(s.scalars(select(SampleRow.app).distinct()))

    def last_sample_epoch(self, app: str) -> int | None:
        with self.session() as s:
            v = s.scalar(select(func.max(SampleRow.at_epoch)).where(SampleRow.app == app))
            return int(v) if v is not None else None


def _plan_dict(r: PlanRow) -> dict[str, Any]:
    return {"name": r.name, "app": r.app, "plan": json.loads(r.plan_json), "csv": r.plan_csv,
            "sha256": r.sha256, "created_at": r.created_at,
            "acknowledged_by": r.acknowledged_by, "acknowledged_at": r.acknowledged_at,
            "acknowledged_scaler": r.acknowledged_scaler}


def _audit_dict(r: AuditRow) -> dict[str, Any]:
    return {"id": r.id, "actor": r.actor, "action": r.action, "target": r.target,
            "before": json.loads(r.before_json), "after": json.loads(r.after_json), "at": r.at}


def _run_dict(r: RunRow) -> dict[str, Any]:
    return {"name": r.name, "scenario": r.scenario, "created_at": r.created_at,
            "results": json.loads(r.results_json)}


def _feedback_dict(r: FeedbackRow) -> dict[str, Any]:
    return {"id": r.id, "namespace": r.namespace, "scaler": r.scaler, "decision": r.decision,
            "verdict": r.verdict, "note": r.note, "decision_record": json.loads(r.decision_json),
            "author": r.author, "created_at": r.created_at}
