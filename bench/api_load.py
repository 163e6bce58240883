"""Load on `edgewise serve`: requests per second and latency of the overview and app endpoints.

Builds a real Prometheus TSDB (promtool backfill) holding, for N apps: the SLO recording-rule
series of `edgewise slo rules` (one latency SLO each) for the last hour, and per-app demand
gauges for `--days` at `--step-seconds`; starts Prometheus and the real server (uvicorn, one
process) on loopback, then drives it from `--clients` threads over keep-alive connections for
`--seconds`: half the requests on /api/v1/overview, half on /api/v1/apps/<random app>.
The baseline, measured in the same run, is /healthz (the server's floor: routing, auth-free).

    python -m bench.api_load --apps 200 --days 1 --json out.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.k8slab import PYTHON, Prometheus, edgewise, free_port, wait_for
from slo.budget import RATE_WINDOWS

RECORDS = [*(f"edgewise_slo:sli_error:ratio_rate{w}" for w in RATE_WINDOWS)]


def _tsdb(d: Path, apps: list[str], days: float, step: int, end: int) -> Path:
    rng = np.random.default_rng(0)
    om = d / "load.om"
    with om.open("w") as f:
        f.write("# TYPE edgewise_service_requests_per_second gauge\n")
        n = int(days * 86_400 // step)
        stamps = end - step * np.arange(n)[::-1]
        for a in apps:
            values = 100 + 20 * rng.standard_normal(n)
            lab = f'app="{a}",service="frontend",job="load"'
            f.writelines(f"edgewise_service_requests_per_second{{{lab}}} {v:.2f} {t}\n"
                         for t, v in zip(stamps.tolist(), values.tolist(), strict=True))
        recent = end - step * np.arange(3600 // step)[::-1]
        for rec in [*RECORDS, "edgewise_slo:sli_error:ratio_window"]:
            f.write(f"# TYPE {rec.replace(':', '_')} gauge\n")
            for a in apps:
                extra = ',window="28d"' if rec.endswith("window") else ""
                lab = f'slo="{a}-latency",app="{a}",objective="latency"{extra}'
                ratio = float(rng.uniform(0.0, 0.01))
                f.writelines(f"{rec}{{{lab}}} {ratio:.6f} {t}\n" for t in recent.tolist())
        f.write("# EOF\n")
    out = d / "tsdb"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(om),
                    str(out)], check=True, capture_output=True, timeout=3600)
    om.unlink()
    return out


def _drive(port: int, paths: list[str], token: str, seconds: float, clients: int
           ) -> dict[str, Any]:
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rnd = random.Random(i)
        while time.monotonic() < stop:
            path = rnd.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            lat[i].append((time.perf_counter() - t0) * 1000.0)
            errors[i] += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    all_ms = np.concatenate([np.asarray(x) for x in lat]) if any(lat) else np.zeros(1)
    return {"requests": int(all_ms.size), "rps": all_ms.size / wall,
            "p50_ms": float(np.percentile(all_ms, 50)), "p99_ms": float(np.percentile(all_ms, 99)),
            "errors": int(sum(errors))}


def run(args: argparse.Namespace) -> dict[str, Any]:
    apps = [f"app-{i:03d}" for i in range(args.apps)]
    with tempfile.TemporaryDirectory(prefix="edgewise-api-load-") as tmp:
        d = Path(tmp)
        end = int(time.time()) // 15 * 15 - 30
        t0 = time.monotonic()
        tsdb = _tsdb(d, apps, args.days, args.step_seconds, end)
        backfill_s = time.monotonic() - t0
        prom = Prometheus(d / "prom", [], data_dir=tsdb).start()
        slos = d / "slos.yaml"
        slos.write_text(yaml.safe_dump({"slos": [
            {"name": f"{a}-latency", "app": a, "objective": "latency", "threshold_ms": 400,
             "target": 0.995, "window": "28d", "selector": {"app": a}} for a in apps]}))
        db = d / "store.db"
        token = subprocess.run([PYTHON, "-m", "edgewise.cli", "serve", "token", "create",
                                "--role", "viewer", "--db", str(db)], capture_output=True,
                               text=True, check=True).stdout.strip()
        port = free_port()
        server = edgewise(["serve", "--port", str(port), "--db", str(db), "--slos", str(slos),
                           "--prometheus", prom.url], d / "serve.log")
        try:
            wait_for(lambda: http_ok(port), 60, "edgewise serve")
            _drive(port, ["/api/v1/overview"], token, 2.0, 2)  # warm-up
            base = _drive(port, ["/healthz"], token, args.seconds, args.clients)
            load = _drive(port, ["/api/v1/overview", *[f"/api/v1/apps/{a}" for a in apps[:50]]],
                          token, args.seconds, args.clients)
            overview = _drive(port, ["/api/v1/overview"], token, args.seconds, args.clients)
        finally:
            server.stop()
            prom.stop()
    return {**{k: load[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
            "requests": load["requests"], "apps": args.apps, "days": args.days,
            "step_seconds": args.step_seconds, "clients": args.clients,
            "seconds": args.seconds, "backfill_seconds": backfill_s,
            "overview_only": overview, "baseline_healthz": base,
            "rps_ratio_to_baseline": load["rps"] / base["rps"] if base["rps"] else None,
            "target": {"rps": 500, "p99_ms": 50, "errors": 0}}


def http_ok(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    conn.request("GET", "/healthz")
    return conn.getresponse().status == 200


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apps", type=int, default=200, help="apps, one SLO and scaler each")
    p.add_argument("--days", type=float, default=1.0,
                   help="days of demand history per app (the issue asks 30; see docs)")
    p.add_argument("--step-seconds", type=int, default=15)
    p.add_argument("--clients", type=int, default=8, help="client threads")
    p.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    res = run(args)
    print(f"mixed overview+app: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
          f"p99 {res['p99_ms']:.1f} ms, {res['errors']} errors "
          f"({res['requests']} requests, {args.clients} clients)")
    o, b = res["overview_only"], res["baseline_healthz"]
    print(f"overview only: {o['rps']:.0f} req/s, p99 {o['p99_ms']:.1f} ms; "
          f"baseline /healthz: {b['rps']:.0f} req/s, p99 {b['p99_ms']:.1f} ms; "
          f"ratio to baseline {res['rps_ratio_to_baseline']:.3f}")
    print(f"target: 500 req/s with p99 <= 50 ms, 0 errors; {args.apps} apps, "
          f"{args.days} days at {args.step_seconds} s (backfill {res['backfill_seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
