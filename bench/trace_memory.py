"""Peak memory of importing a per-request trace: streaming (`envs.trace.load_trace`, binned while
read) against the whole-file loader it replaced (kept below as the baseline), in the same run.

    python -m bench.trace_memory                    # 10 million rows
    python -m bench.trace_memory --rows 1000000 --json trace-memory.json

Writes one events-shape CSV (`timestamp`, Unix seconds with milliseconds, one row per request,
about 5.5 requests/s over 21 days) to a temporary directory, then runs each loader in a fresh
Python process and reads that process's peak RSS (`ru_maxrss`). Also measured: the same process
doing nothing but the imports (what neither loader can go below). Both loaders must return the
same per-minute demand; the bench says so (`same_result`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TICK_SECONDS = 60
SPAN_DAYS = 21

_CHILD = r"""
import csv, json, resource, sys, time
from datetime import datetime
from pathlib import Path
import numpy as np
from envs.trace import load_trace

def legacy_load(path, ticks, tick_seconds):
    # The loader before issue 14: every row kept as a list of strings, then a Python list of
    # floats, then numpy arrays (what took 2.3-2.4 GB for 10 million rows).
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if any(c.strip() for c in r)]
    header = [h.strip().lower() for h in rows[0]]
    ti = header.index("timestamp")
    t = np.asarray([float(r[ti]) for r in rows[1:]])
    t = t - t[0]
    edges = np.arange(ticks + 1) * float(tick_seconds)
    counts, _ = np.histogram(t, bins=edges)
    return counts / float(tick_seconds)

mode, path, ticks, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
if mode == "legacy":
    rps = legacy_load(path, ticks, 60)
elif mode == "streaming":
    rps = load_trace(path, datetime(2026, 1, 1), ticks, 60)
else:
    rps = np.zeros(ticks)
seconds = time.perf_counter() - start
np.save(out, rps)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_mib": peak_kib / 1024, "seconds": seconds}))
"""


def write_trace(path: Path, rows: int, seed: int = 0) -> int:
    """An events CSV of `rows` requests over SPAN_DAYS; returns the ticks it covers."""
    rng = np.random.default_rng(seed)
    span = SPAN_DAYS * 86_400
    stamps = np.sort(rng.uniform(0, span, rows)) + 1_767_225_600.0  # from 2026-01-01
    with path.open("w") as f:
        f.write("timestamp\n")
        for lo in range(0, rows, 1_000_000):
            chunk = np.round(stamps[lo:lo + 1_000_000], 3)
            f.write("\n".join(f"{x:.3f}" for x in chunk.tolist()))
            f.write("\n")
    return int((stamps[-1] - stamps[0]) // TICK_SECONDS)


def measure(mode: str, trace: Path, ticks: int, out: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, mode, str(trace), str(ticks), str(out)],
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="requests in the trace")
    p.add_argument("--json", type=Path, help="write the figures to this file")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        trace = root / "requests.csv"
        t0 = time.perf_counter()
        ticks = write_trace(trace, args.rows)
        size_mib = trace.stat().st_size / 2**20
        print(f"trace: {args.rows:,} rows, {size_mib:,.0f} MiB, {ticks:,} ticks of "
              f"{TICK_SECONDS} s (written in {time.perf_counter() - t0:.1f} s)")
        runs = {mode: measure(mode, trace, ticks, root / f"{mode}.npy")
                for mode in ("imports-only", "legacy", "streaming")}
        same = bool(np.array_equal(np.load(root / "legacy.npy"), np.load(root / "streaming.npy")))
    legacy, stream = runs["legacy"], runs["streaming"]
    figures = {
        "rows": args.rows,
        "trace_mib": round(size_mib, 1),
        "imports_only_peak_rss_mib": round(runs["imports-only"]["peak_rss_mib"], 1),
        "legacy_peak_rss_mib": round(legacy["peak_rss_mib"], 1),
        "streaming_peak_rss_mib": round(stream["peak_rss_mib"], 1),
        "rss_ratio": round(legacy["peak_rss_mib"] / stream["peak_rss_mib"], 2),
        "legacy_seconds": round(legacy["seconds"], 2),
        "streaming_seconds": round(stream["seconds"], 2),
        "same_result": same,
    }
    print(f"{'loader':<14}{'peak RSS MiB':>14}{'seconds':>10}")
    for mode in ("imports-only", "legacy", "streaming"):
        r = runs[mode]
        print(f"{mode:<14}{r['peak_rss_mib']:>14,.0f}{r['seconds']:>10.1f}")
    print(f"peak RSS legacy / streaming: {figures['rss_ratio']:.1f}x; same per-tick demand: "
          f"{same}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
