"""The store on a real PostgreSQL (Debian's server, a throwaway cluster started by the test on
loopback): the Alembic migrations, then the server writing and reading through it."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.k8slab import PYTHON, edgewise, free_port, wait_for
from tests.support.planfiles import plan_dir

PG_BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not (PG_BIN / "initdb").exists(), reason="Debian postgresql 15 not installed")]


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` system user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("pg")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no postgres system user (Debian's postgresql package makes it)")
        os.chmod(d, 0o755)
        for p in (d, *d.parents):
            if p == Path("/"):
                break
            os.chmod(p, os.stat(p).st_mode | 0o011)  # let postgres traverse to its directory
        shutil.chown(d, pw.pw_uid, pw.pw_gid)
    data, port = d / "data", free_port()
    subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "edgewise",
                                 "--auth=trust"]), check=True, capture_output=True, timeout=120)
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l",
                                 str(d / "pg.log"), "-w", "-o",
                                 f"-k {d} -h 127.0.0.1 -p {port}", "start"]),
                   check=True, capture_output=True, timeout=120)
    try:
        subprocess.run(_as_postgres([str(PG_BIN.parent / "bin/createdb"), "-h", "127.0.0.1",
                                     "-p", str(port), "-U", "edgewise", "edgewise"]),
                       check=True, capture_output=True, timeout=60)
        yield f"postgresql+psycopg2://edgewise@127.0.0.1:{port}/edgewise"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), check=False, capture_output=True, timeout=60)


def test_migrations_and_the_api_on_postgresql(postgres: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect, text

    from edgewise.api.store import migrate

    migrate(postgres)
    migrate(postgres)  # idempotent
    engine = create_engine(postgres)
    assert {"api_tokens", "feedback", "audit", "bench_runs", "samples", "event_plans",
            "placements"} <= set(inspect(engine).get_table_names())
    with engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == "0002"
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        out = subprocess.run([PYTHON, "-m", "edgewise.cli", "serve", "token", "create", "--role",
                              role, "--database-url", postgres], capture_output=True, text=True,
                             check=True)
        tokens[role] = out.stdout.strip()
    port = free_port()
    plan = plan_dir(tmp_path / "plan", int(time.time()))
    proc = edgewise(["serve", "--port", str(port), "--database-url", postgres,
                     "--slos", str(Path(__file__).parents[2] / "examples/slos.yaml"),
                     "--plan", str(plan)], tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "edgewise serve")

        def h(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[role]}"}

        body = {"namespace": "shop", "scaler": "web", "decision": "2026-11-27T10:00:00Z",
                "verdict": "good", "note": "prescaled in time"}
        assert requests.post(f"{url}/api/v1/feedback", json=body, headers=h("viewer"),
                             timeout=5).status_code == 403
        r = requests.post(f"{url}/api/v1/feedback", json=body, headers=h("operator"), timeout=5)
        assert r.status_code == 201, r.text
        lines = requests.get(f"{url}/api/v1/feedback?format=jsonl", headers=h("viewer"),
                             timeout=5).text.splitlines()
        assert len(lines) == 1 and '"prescaled in time"' in lines[0]
        audit = requests.get(f"{url}/api/v1/audit", headers=h("admin"), timeout=5).json()
        assert audit[0]["action"] == "feedback" and audit[0]["actor"].startswith("local:")
        (stored_plan,) = requests.get(f"{url}/api/v1/plans", headers=h("viewer"),
                                      timeout=5).json()
        assert stored_plan["name"] == "shop-doorbuster" and stored_plan["hours"] == 3
        slos = requests.get(f"{url}/api/v1/slos", headers=h("viewer"), timeout=5).json()
        assert {s["name"] for s in slos} == {"shop-latency", "shop-availability"}
    finally:
        proc.stop()
    with engine.connect() as c:
        stored = c.execute(text("select token_sha256 from api_tokens")).scalars().all()
    assert len(stored) == 3 and not any(t in stored for t in tokens.values())
