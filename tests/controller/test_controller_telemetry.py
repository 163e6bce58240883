"""The controller's and the replay's expositions: promtool-clean, and parsed back by the
direct-scrape fallback source."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import pytest
from prometheus_client import generate_latest

from controller.actuation import ActuationKind
from controller.decision import DayAhead, Decision, DecisionReason, Forecast, TargetDecision
from controller.observe import MetricKind
from controller.scrape import parse_exposition
from controller.spec import Mode, ScalerRef
from controller.telemetry import Telemetry
from evaluation.replay import ReplayMetrics

T0 = datetime(2026, 11, 27, 10, 0, 0)


REF = ScalerRef(namespace="shop", name="web", app="boutique")


def _decision(day_ahead: DayAhead | None) -> Decision:
    return Decision(T0, 3, Mode.ACTIVE, "hpa", DecisionReason.SCALE_UP, "web 3->5", (
        TargetDecision("web", "web", 3, 3, 5, "AsProposed", ActuationKind.SCALE),),
        Forecast(20.0, 20.0, 0.0, day_ahead=day_ahead), True)


def _telemetry() -> tuple[Telemetry, list[str]]:
    lines: list[str] = []
    t = Telemetry(lines.append)
    ref = REF
    t.decided(ref, _decision(DayAhead("frontend", 18.5, 24.0)))
    t.fallback(ref, "PrometheusUnavailable")
    t.reconcile_seconds.observe(0.02)
    return t, lines


def test_day_ahead_gauge_per_quantile_and_none_without_a_forecast() -> None:
    t, _ = _telemetry()
    text = generate_latest(t.registry).decode()
    for q, v in (("p50", "18.5"), ("p90", "24.0")):
        assert ('edgewise_forecast_requests_per_second{app="boutique",forecast="' + q +
                f'",namespace="shop",scaler="web",service="frontend"}} {v}') in text, text
    t.decided(REF, _decision(None))  # a day without a forecast: no stale numbers
    assert "edgewise_forecast_requests_per_second{" not in generate_latest(t.registry).decode()
    t.decided(REF, _decision(DayAhead("frontend", 19.0, 25.0)))
    assert 'service="frontend"} 19.0' in generate_latest(t.registry).decode()


def test_decision_log_is_one_json_line_per_decision() -> None:
    _, lines = _telemetry()
    assert len(lines) == 1 and '"reason": "ScaleUp"' in lines[0]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Debian's promtool not installed")
@pytest.mark.parametrize("which", ["controller", "replay"])
def test_promtool_check_metrics(which: str) -> None:
    if which == "controller":
        text = generate_latest(_telemetry()[0].registry)
    else:
        m = ReplayMetrics()
        m.rate.labels("web").set(20)
        text = generate_latest(m.registry)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


def test_direct_scrape_reads_the_replay_gauges() -> None:
    m = ReplayMetrics()
    m.rate.labels("web").set(20)
    m.cpu.labels("web").set(0.6)
    samples = parse_exposition(generate_latest(m.registry).decode(), T0)
    assert samples[("web", MetricKind.RATE)].value == 20
    assert samples[("web", MetricKind.CPU)].value == 0.6
