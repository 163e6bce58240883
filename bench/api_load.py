"""Load on `edgewise serve`: requests per second and latency of the overview and app endpoints.

Builds a real Prometheus TSDB (promtool backfill) holding, for N apps: the SLO recording-rule
series of `edgewise slo rules` (one latency SLO each) for the last hour, and per-app demand
gauges for `--days` at `--step-seconds` (30 days at 15 s: 172,800 samples per app); starts
Prometheus (retention above the history) and the real server (uvicorn, `--workers` processes)
on loopback, then drives it from `--procs` client processes of `--conns` keep-alive connections
each for `--seconds`: half the requests on /api/v1/overview, half on /api/v1/apps/<random app>.
The client sends prebuilt requests over raw sockets (no HTTP library), so it costs the shared
cores as little as it can.

The baseline, measured in the same run against the same server, is /healthz (the server's
floor: routing and the middleware, no auth). Also measured: overview alone, and the app page's
30-day demand series (`/api/v1/apps/<app>/series/demand_rps`, 500 points from 172,800 samples).
The load average is printed with every figure (the machine is shared).

    python -m bench.api_load --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.k8slab import PYTHON, Proc, Prometheus, edgewise, free_port, wait_for
from slo.budget import RATE_WINDOWS

RECORDS = [*(f"edgewise_slo:sli_error:ratio_rate{w}" for w in RATE_WINDOWS)]
CACHE_META = "edgewise-api-load.json"
# `edgewise` under cProfile. uvicorn re-raises SIGTERM after its graceful shutdown, with the
# handler it found: this one, so the profiler's stats get written on the way out.
PROFILED = """
import cProfile, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
out, sys.argv = sys.argv[1], ["edgewise", *sys.argv[2:]]
from edgewise.cli import main
cProfile.run("main()", out)
"""


BLOCK_SECONDS = 7200  # promtool 2.42 cuts 2 h blocks and reads the whole input once per block


def _history(d: Path, data: Path, apps: list[str], days: float, step: int, end: int) -> None:
    """The demand history as one OpenMetrics file per 2 h block (promtool would otherwise
    parse a 3 GB file once for each of the 360 blocks of 30 days), two promtools at a time."""
    rng = np.random.default_rng(0)
    n = int(days * 86_400 // step)
    times = end - step * np.arange(n)[::-1]
    values = 100 + 20 * rng.standard_normal((len(apps), n))
    windows = times // BLOCK_SECONDS
    running: list[subprocess.Popen[bytes]] = []
    for w in np.unique(windows).tolist():
        idx = np.flatnonzero(windows == w)
        stamps = [str(t) for t in times[idx].tolist()]
        om = d / f"history-{w}.om"
        with om.open("w") as f:
            f.write("# TYPE edgewise_service_requests_per_second gauge\n")
            for i, a in enumerate(apps):
                head = f'edgewise_service_requests_per_second{{app="{a}",service="frontend",' \
                       f'job="load"}} '
                vals = np.char.mod("%.2f", values[i, idx])
                f.write("".join(f"{head}{v} {t}\n" for v, t in zip(vals, stamps, strict=True)))
            f.write("# EOF\n")
        running.append(subprocess.Popen(["promtool", "tsdb", "create-blocks-from",
                                         "openmetrics", "--quiet", str(om), str(data)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        if len(running) >= 2:
            _finish(running.pop(0))
    for proc in running:
        _finish(proc)
    for om in d.glob("history-*.om"):
        om.unlink()


def _finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool failed: {err.decode()[-500:]}")


def _rules(om: Path, apps: list[str], step: int, end: int) -> None:
    rng = np.random.default_rng(1)
    recent = end - step * np.arange(3600 // step)[::-1]
    with om.open("w") as f:
        for rec in [*RECORDS, "edgewise_slo:sli_error:ratio_window"]:
            f.write(f"# TYPE {rec.replace(':', '_')} gauge\n")
            for a in apps:
                extra = ',window="28d"' if rec.endswith("window") else ""
                lab = f'slo="{a}-latency",app="{a}",objective="latency"{extra}'
                ratio = float(rng.uniform(0.0, 0.01))
                f.writelines(f"{rec}{{{lab}}} {ratio:.6f} {t}\n" for t in recent.tolist())
        f.write("# EOF\n")


def _blocks(om: Path, out: Path) -> None:
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(om),
                    str(out)], check=True, capture_output=True, timeout=7200)
    om.unlink()


def _tsdb(d: Path, args: argparse.Namespace, apps: list[str], end: int
          ) -> tuple[Path, dict[str, Any]]:
    """The data dir: the history's blocks (built, or hard-linked from --cache) + fresh rules."""
    data = d / "tsdb"
    info: dict[str, Any] = {"apps": len(apps), "days": args.days, "step": args.step_seconds}
    cache = Path(args.cache) if args.cache else None
    meta = json.loads((cache / CACHE_META).read_text()) if cache and (
        cache / CACHE_META).exists() else None
    t0 = time.monotonic()
    if meta is not None and {k: v for k, v in meta.items() if k != "end"} == info:
        end_hist = int(meta["end"])
        shutil.copytree(cache / "blocks", data, copy_function=os.link)  # type: ignore[operator]
        info["history_from_cache"] = True
    else:
        end_hist = end
        data.mkdir()
        _history(d, data, apps, args.days, args.step_seconds, end)
        info["history_from_cache"] = False
        if cache is not None:
            _keep(data, cache, {**info, "history_end": end})
    info["history_seconds"] = time.monotonic() - t0
    info["history_end"] = end_hist
    _rules(d / "rules.om", apps, args.step_seconds, end)
    _blocks(d / "rules.om", data)
    info["samples"] = int(len(apps) * (args.days * 86_400 // args.step_seconds
                                       + 8 * 3600 // args.step_seconds))
    return data, info


def _prom_metric(prom: Prometheus, name: str) -> float:
    import requests

    total = 0.0
    for line in requests.get(f"{prom.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def settle(prom: Prometheus, started: float, quiet_seconds: float = 20.0,
           limit_seconds: float = 1800.0) -> dict[str, float]:
    """Wait for Prometheus to compact the backfilled blocks (its first compaction runs a
    minute after start) so that no compaction competes with the measurements."""
    names = ("prometheus_tsdb_compactions_total", "prometheus_tsdb_vertical_compactions_total")
    last, since = None, time.monotonic()
    while time.monotonic() - started < limit_seconds:
        now = tuple(_prom_metric(prom, n) for n in names)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - started > 75 and time.monotonic() - since >= quiet_seconds:
            break
        time.sleep(5)
    return {"settle_seconds": time.monotonic() - started, "compactions": (last or (0,))[0],
            "blocks_loaded": _prom_metric(prom, "prometheus_tsdb_blocks_loaded")}


def _keep(data: Path, cache: Path, info: dict[str, Any]) -> None:
    """The history's blocks into the cache (hard links; Prometheus never rewrites a block)."""
    shutil.rmtree(cache / "blocks", ignore_errors=True)
    (cache / "blocks").mkdir(parents=True)
    for block in data.iterdir():
        if block.is_dir() and (block / "meta.json").exists():
            shutil.copytree(block, cache / "blocks" / block.name, copy_function=os.link)
    keep = {k: info[k] for k in ("apps", "days", "step")}
    (cache / CACHE_META).write_text(json.dumps({**keep, "end": info["history_end"]}))


def _request(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "\r\n").encode()


def _read_response(sock: socket.socket, buf: bytearray) -> int:
    """Read one response off the keep-alive socket; its status code."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buf[:] = rest[length:]
    return status


def _client(port: int, requests: list[bytes], seconds: float, conns: int, seed: int,
            out: Any) -> None:
    """One client process: `conns` connections, each sending the next request when the
    previous answer is in (a closed loop), multiplexed with select."""
    import selectors

    rnd = random.Random(seed)
    sel = selectors.DefaultSelector()
    lat: list[float] = []
    errors = 0
    state: dict[socket.socket, tuple[float, bytearray]] = {}

    def start(s: socket.socket) -> None:
        s.sendall(rnd.choice(requests))
        state[s] = (time.perf_counter(), state.get(s, (0.0, bytearray()))[1])

    def connect() -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sel.register(conn, selectors.EVENT_READ)
        state[conn] = (0.0, bytearray())
        return conn

    for _ in range(conns):
        start(connect())
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        for key, _ in sel.select(timeout=1.0):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            t0, buf = state[conn]
            try:
                code = _read_response(conn, buf)
            except (OSError, ValueError):
                code = 0
            lat.append((time.perf_counter() - t0) * 1000.0)
            errors += code != 200
            if code == 0:
                sel.unregister(conn)
                conn.close()
                del state[conn]
                conn = connect()
            start(conn)
    for conn in state:
        conn.close()
    out.send((lat, errors))


def drive(port: int, paths: list[str], token: str, seconds: float, procs: int, conns: int
          ) -> dict[str, Any]:
    requests = [_request(p, token) for p in paths]
    load0 = os.getloadavg()[0]
    pipes, workers = [], []
    ctx = mp.get_context("fork")
    t0 = time.monotonic()
    for i in range(procs):
        recv, send = ctx.Pipe(duplex=False)
        w = ctx.Process(target=_client, args=(port, requests, seconds, conns, i, send))
        w.start()
        pipes.append(recv)
        workers.append(w)
    got = [p.recv() for p in pipes]
    wall = time.monotonic() - t0
    for w in workers:
        w.join()
    all_ms = np.concatenate([np.asarray(x[0]) for x in got]) if got else np.zeros(0)
    if all_ms.size == 0:
        all_ms = np.full(1, np.nan)
    return {"requests": int(all_ms.size), "rps": all_ms.size / wall,
            "p50_ms": float(np.percentile(all_ms, 50)), "p99_ms": float(np.percentile(all_ms, 99)),
            "errors": int(sum(x[1] for x in got)),
            "load_average_1m": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def _serve(d: Path, port: int, db: Path, slos: Path, prom: Prometheus, workers: int,
           profile: Path | None = None) -> Any:
    argv = ["serve", "--port", str(port), "--db", str(db), "--slos", str(slos),
            "--prometheus", prom.url, "--workers", str(workers)]
    if profile is None:
        server = edgewise(argv, d / f"serve-{workers}.log")
    else:  # one process under cProfile, written when uvicorn exits on SIGTERM
        server = Proc("serve", [PYTHON, "-c", PROFILED, str(profile), *argv],
                      d / "serve-profile.log", {**os.environ, "PYTHONUNBUFFERED": "1"}).start()
    wait_for(lambda: http_ok(port), 90, "edgewise serve")
    return server


def _measure(port: int, token: str, apps: list[str], args: argparse.Namespace, now: int
             ) -> dict[str, Any]:
    m = (args.seconds, args.procs, args.conns)
    drive(port, ["/healthz", "/api/v1/overview", *[f"/api/v1/apps/{a}" for a in apps[:50]]],
          token, 3.0, args.procs, args.conns)  # warm-up: every path, every worker
    month = f"/api/v1/apps/APP/series/demand_rps?start={now - 30 * 86_400}&end={now}"
    return {
        "baseline_healthz": drive(port, ["/healthz"], token, *m),
        "mixed": drive(port, ["/api/v1/overview", *[f"/api/v1/apps/{a}" for a in apps[:50]]],
                       token, *m),
        "overview_only": drive(port, ["/api/v1/overview"], token, *m),
        "series_30d": drive(port, [month.replace("APP", a) for a in apps[:50]], token,
                            args.seconds, 1, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    apps = [f"app-{i:03d}" for i in range(args.apps)]
    with tempfile.TemporaryDirectory(prefix="edgewise-api-load-") as tmp:
        d = Path(tmp)
        end = int(time.time()) // 15 * 15 - 30
        data, info = _tsdb(d, args, apps, end)
        started = time.monotonic()
        prom = Prometheus(d / "prom", [], data_dir=data,
                          retention=f"{int(args.days) + 30}d").start()
        try:
            _note(f"history ready in {info['history_seconds']:.0f} s; Prometheus compacting")
            info |= settle(prom, started)
        except BaseException:
            prom.stop()
            raise
        _note(f"settled after {info['settle_seconds']:.0f} s ({info['blocks_loaded']:.0f} "
              "blocks)")
        slos = d / "slos.yaml"
        slos.write_text(yaml.safe_dump({"slos": [
            {"name": f"{a}-latency", "app": a, "objective": "latency", "threshold_ms": 400,
             "target": 0.995, "window": "28d", "selector": {"app": a}} for a in apps]}))
        db = d / "store.db"
        token = subprocess.run([PYTHON, "-m", "edgewise.cli", "serve", "token", "create",
                                "--role", "viewer", "--db", str(db)], capture_output=True,
                               text=True, check=True).stdout.strip()
        by_workers: dict[str, Any] = {}
        try:
            for workers in args.workers:
                _note(f"measuring with {workers} server worker(s)")
                port = free_port()
                server = _serve(d, port, db, slos, prom, workers)
                try:
                    by_workers[str(workers)] = _measure(port, token, apps, args, int(time.time()))
                finally:
                    server.stop()
            if args.profile:
                profiled = _profiled(d, db, slos, prom, token, apps, args)
        finally:
            prom.stop()
    best = max(by_workers.values(), key=lambda r: r["mixed"]["rps"])
    extra = {"profile": profiled} if args.profile else {}
    mixed, base = best["mixed"], best["baseline_healthz"]
    return {**{k: mixed[k] for k in ("rps", "p50_ms", "p99_ms", "errors")},
            "requests": mixed["requests"], "server_workers": next(
                k for k, v in by_workers.items() if v is best),
            "by_server_workers": by_workers, "tsdb": info, "apps": args.apps,
            "days": args.days, "step_seconds": args.step_seconds, "client_procs": args.procs,
            "connections_per_proc": args.conns, "seconds": args.seconds,
            "rps_ratio_to_baseline": mixed["rps"] / base["rps"] if base["rps"] else None,
            "cpus": os.cpu_count(), "target": {"rps": 500, "p99_ms": 50, "errors": 0}, **extra}


def _profiled(d: Path, db: Path, slos: Path, prom: Prometheus, token: str, apps: list[str],
              args: argparse.Namespace) -> dict[str, Any]:
    """The mixed load on one server process under cProfile (slower than unprofiled); the
    functions that took the most time of their own."""
    import pstats

    _note("profiling one server process under the mixed load")
    port, out = free_port(), Path(args.profile)
    server = _serve(d, port, db, slos, prom, 1, out)
    try:
        paths = ["/api/v1/overview", *[f"/api/v1/apps/{a}" for a in apps[:50]]]
        drive(port, paths, token, 3.0, args.procs, args.conns)
        load = drive(port, paths, token, args.seconds, args.procs, args.conns)
    finally:
        server.stop(timeout=30)
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:15]  # type: ignore[attr-defined]
    top = [{"function": f"{Path(f).name}:{line}({name})", "own_seconds": round(tt, 3),
            "share": round(tt / total, 3) if total else None}
           for (f, line, name), (_cc, _nc, tt, _ct, _callers) in rows]
    return {"file": str(out), "requests": load["requests"], "rps": load["rps"],
            "total_seconds": total, "top_own_time": top}


def _note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def http_ok(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return _read_response(s, bytearray()) == 200


def _line(name: str, r: dict[str, Any]) -> str:
    la = r["load_average_1m"]
    return (f"  {name:<14} {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 "
            f"{r['p99_ms']:7.1f} ms  {r['errors']} errors  ({r['requests']} requests; "
            f"load average {la[0]:.2f} -> {la[1]:.2f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apps", type=int, default=200, help="apps, one SLO each")
    p.add_argument("--days", type=float, default=30.0, help="days of demand history per app")
    p.add_argument("--step-seconds", type=int, default=15)
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--conns", type=int, default=4, help="keep-alive connections per process")
    p.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="server worker processes to measure (each a fresh server)")
    p.add_argument("--cache", help="keep the history's TSDB blocks here and reuse them when "
                   "--apps/--days/--step-seconds match (the backfill takes minutes)")
    p.add_argument("--profile", metavar="FILE",
                   help="also run one server process under cProfile on the mixed load, write "
                   "its stats to FILE and print the functions with the most own time")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    res = run(args)
    t = res["tsdb"]
    print(f"{args.apps} apps, {args.days:g} days at {args.step_seconds} s ({t['samples']:,} "
          f"samples; history {'from cache' if t['history_from_cache'] else 'backfilled'} in "
          f"{t['history_seconds']:.0f} s); clients {args.procs} x {args.conns} connections, "
          f"{args.seconds:g} s each; {res['cpus']} CPUs")
    for workers, r in res["by_server_workers"].items():
        ratio = r["mixed"]["rps"] / r["baseline_healthz"]["rps"]
        print(f"server workers {workers}: mixed / baseline = {ratio:.2f}")
        for name in ("baseline_healthz", "mixed", "overview_only", "series_30d"):
            print(_line(name, r[name]))
    print(f"best (workers {res['server_workers']}): {res['rps']:.0f} req/s, p99 "
          f"{res['p99_ms']:.1f} ms, {res['errors']} errors; target 500 req/s, p99 <= 50 ms, "
          "0 errors")
    if "profile" in res:
        prof = res["profile"]
        print(f"profile ({prof['requests']} requests at {prof['rps']:.0f} req/s under cProfile, "
              f"{prof['total_seconds']:.1f} s of own time in the server): {prof['file']}")
        for row in prof["top_own_time"]:
            print(f"  {row['share'] * 100:5.1f}%  {row['own_seconds']:7.3f} s  {row['function']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
