from __future__ import annotations

import csv
from pathlib import Path

import pytest

from edgewise.cli import main


def test_forecast_writes_csv_and_html(trace_csv: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fc"
    assert main(["forecast", "--trace", str(trace_csv), "--horizon", "24h", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "forecast.csv").open()))
    assert len(rows) == 24
    assert {"timestamp", "p50", "p90", "seasonal-naive_p50"} <= set(rows[0])
    assert all(float(r["p90"]) >= float(r["p50"]) >= 0 for r in rows)
    assert rows[0]["timestamp"] == "2026-03-12T00:00:00"
    page = (out / "forecast.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert "quantile-mlp" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "needle"), [
    (["--trace", "missing.csv"], "missing.csv"),
    (["--horizon", "90m"], "horizon"),
    (["--horizon", "9d"], "horizon"),
])
def test_forecast_bad_input_exit_2(argv: list[str], needle: str, trace_csv: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--trace": str(trace_csv), "--horizon": "24h", "--out": str(tmp_path / "o")}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        base[flag] = value
    args = ["forecast", *(x for kv in base.items() for x in kv)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_forecast_too_short_trace_exit_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from tests.scaler.conftest import write_trace

    short = write_trace(tmp_path / "short.csv", days=3)
    assert main(["forecast", "--trace", str(short), "--out", str(tmp_path / "o")]) == 2
    assert "history" in capsys.readouterr().err

