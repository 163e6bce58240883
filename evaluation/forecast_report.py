"""`edgewise forecast` files: forecast.csv (hourly P50, P90 and the baselines) and forecast.html
(the recent history and the forecasts, inline SVG via report.py's chart helper)."""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np

from evaluation.report import _chart
from scaler.forecast_features import HourlySeries
from scaler.quantile_forecast import QuantileForecast

SHOWN_HISTORY_HOURS = 168


def write_forecast_csv(main: QuantileForecast, baselines: Sequence[QuantileForecast],
                       path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "p50", "p90", *(f"{b.method.value}_p50" for b in baselines),
                    *(f"{b.method.value}_p90" for b in baselines)])
        for h in range(len(main.p50)):
            stamp = (main.start + timedelta(hours=h)).isoformat()
            w.writerow([stamp, f"{main.p50[h]:.3f}", f"{main.p90[h]:.3f}",
                        *(f"{b.p50[h]:.3f}" for b in baselines),
                        *(f"{b.p90[h]:.3f}" for b in baselines)])


def write_forecast_html(series: HourlySeries, main: QuantileForecast,
                        baselines: Sequence[QuantileForecast], path: Path, title: str) -> None:
    shown = series.rps[-SHOWN_HISTORY_HOURS:]
    horizon = len(main.p50)

    def ahead(v: np.ndarray) -> np.ndarray:  # every line runs through the history (no gaps)
        return np.concatenate([shown, v])

    lines = [(f"{main.method.value} P50", ahead(main.p50)),
             (f"{main.method.value} P90", ahead(main.p90)),
             *((f"{b.method.value}", ahead(b.p50)) for b in baselines)]
    frac = len(shown) / (len(shown) + horizon)
    chart = _chart("Entry demand per hour: last week, then the forecasts (shaded)", "requests/s",
                   lines, bands=[(frac, 1.0)])
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Edgewise forecast: {html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}
svg{{display:block;margin:12px 0}}</style></head><body>
<h1>Edgewise forecast: {html.escape(title)}</h1>
<p>{horizon} h from {main.start.isoformat()}, hourly means. Method {main.method.value}
(P50 and P90); baselines: {", ".join(b.method.value for b in baselines) or "none"}.</p>
{chart}
</body></html>
"""
    path.write_text(doc)
