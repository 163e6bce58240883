"""A twin run backfilled into a real Prometheus with the generated SLO rules, and
`edgewise serve` reading it: shared by the SLO, browser and Grafana e2e tests."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

from bench.k8slab import PYTHON, Proc, Prometheus, edgewise, free_port, wait_for

# holt-winters misses both objectives on the flash sale (latency 0.970, availability 0.998 at
# seed 0); the HPA with CPU limits (issue 15) serves every request, which would test nothing
SCENARIO, POLICY = "flash-sale", "holt-winters"


def _slo_file(path: Path, threshold_ms: float) -> Path:
    sel = {"app": SCENARIO, "job": "twin"}
    path.write_text(yaml.safe_dump({"slos": [
        {"name": "sale-latency", "app": SCENARIO, "objective": "latency",
         "threshold_ms": threshold_ms, "target": "99.5%", "window": "28d", "selector": sel},
        {"name": "sale-availability", "app": SCENARIO, "objective": "availability",
         "target": "99.9%", "window": "28d", "selector": sel}]}))
    return path


def token(db: Path, role: str) -> str:
    out = subprocess.run([PYTHON, "-m", "edgewise.cli", "serve", "token", "create", "--role",
                          role, "--db", str(db)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def slo_world(d: Path, extra_args: list[str] | Callable[[int], list[str]] | None = None
              ) -> Iterator[dict[str, Any]]:
    """`extra_args` for `edgewise serve`, or a function of the run's last tick (Unix s)."""
    from edgewise.twin_export import openmetrics
    from envs.scenario import load_scenario
    from evaluation.compare import run_bench, write_outputs
    from planning.dayahead import day_ahead

    sc = load_scenario(SCENARIO)
    bench = run_bench(sc, [POLICY], 0, jobs=1)
    results = write_outputs(bench, d / "run")
    assert json.loads((d / "run/results.json").read_text()) == json.loads(json.dumps(results))
    # The last tick just before Prometheus starts (so all of it is in blocks), and as late as
    # that, so the 5 m burn window still holds samples when the tests read it.
    end = int(time.time()) - 5
    om = d / "twin.om"
    om.write_text(openmetrics(sc, bench.run_rps, bench.episodes[0], end,
                              {"job": "twin", "app": SCENARIO}, day_ahead(sc, 0)))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                    str(om), str(d / "tsdb")], check=True, capture_output=True, timeout=300)
    slos = _slo_file(d / "slos.yaml", sc.slo.p95_latency_ms)
    rules = d / "rules.yaml"
    assert edgewise(["slo", "rules", "--config", str(slos), "--out", str(rules)],
                    d / "rules.log").popen.wait(60) == 0  # type: ignore[union-attr]
    port = free_port()  # the server's: Prometheus scrapes its /metrics
    prom = Prometheus(d / "prometheus", [f"127.0.0.1:{port}"], data_dir=d / "tsdb",
                      rule_files=[rules]).start()
    procs: list[Proc | Prometheus] = [prom]
    try:
        db = d / "store.db"
        tokens = {r: token(db, r) for r in ("viewer", "operator", "admin")}
        extra = extra_args(end) if callable(extra_args) else (extra_args or [])
        api = edgewise(["serve", "--port", str(port), "--db", str(db), "--slos", str(slos),
                        "--prometheus", prom.url, *extra], d / "serve.log")
        procs.append(api)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "edgewise serve")
        yield {"url": url, "token": tokens["viewer"], "tokens": tokens, "results": results,
               "prom": prom, "end": end, "dir": d}
    finally:
        for p in reversed(procs):
            p.stop()


