"""The generated rules pass `promtool check rules`, and `promtool test rules` checks their values
and alerts on synthetic series whose error ratios are known."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgewise.cli import main
from slo.model import load_slos
from slo.rules import ALERT, alert_rules

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples/slos.yaml"
COMMITTED = REPO / "deploy/prometheus/edgewise-slo-rules.yaml"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool (Debian prometheus) not installed")


def _rules(tmp_path: Path) -> Path:
    out = tmp_path / "rules.yaml"
    assert main(["slo", "rules", "--config", str(EXAMPLE), "--out", str(out)]) == 0
    return out


def test_committed_rules_match_the_generator(tmp_path: Path) -> None:
    assert _rules(tmp_path).read_text() == COMMITTED.read_text(), \
        "regenerate: edgewise slo rules --config examples/slos.yaml " \
        "--out deploy/prometheus/edgewise-slo-rules.yaml --force"


def test_rules_out_is_claimed_like_every_output(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = _rules(tmp_path)
    out.write_text("kept\n")
    assert main(["slo", "rules", "--config", str(EXAMPLE), "--out", str(out)]) == 2
    assert "exists (use --force" in capsys.readouterr().err
    assert out.read_text() == "kept\n"
    assert main(["slo", "rules", "--config", str(EXAMPLE), "--out", str(out), "--force"]) == 0
    assert out.read_text() == COMMITTED.read_text()
    config = tmp_path / "slos.yaml"
    config.write_text(EXAMPLE.read_text())
    assert main(["slo", "rules", "--config", str(config), "--out", str(config), "--force"]) == 2
    assert "also an input" in capsys.readouterr().err
    assert config.read_text() == EXAMPLE.read_text()


def test_bad_slo_file_exits_2_naming_the_field(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slos: [{name: x, app: shop, objective: latency, target: 2}]\n")
    assert main(["slo", "rules", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "slos[0].threshold_ms" in err[0]


@needs_promtool
def test_promtool_check_rules(tmp_path: Path) -> None:
    r = subprocess.run(["promtool", "check", "rules", str(_rules(tmp_path))],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 24 rules found" in r.stdout + r.stderr


def _alerts(slo_name: str, severities: list[str]) -> list[dict[str, Any]]:
    slo = next(s for s in load_slos(EXAMPLE) if s.name == slo_name)
    rules = {r["labels"]["severity"]: r for r in alert_rules(slo)}
    return [{"exp_labels": rules[s]["labels"], "exp_annotations": rules[s]["annotations"]}
            for s in severities]


LAT = 'slo="shop-latency",app="shop",objective="latency"'
AVA = 'slo="shop-availability",app="shop",objective="availability"'


@needs_promtool
def test_promtool_unit_tests(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    fe = 'service="frontend"'
    # 5 h of traffic at 1024 requests a minute: 1% slower than 400 ms (burn 2 of a 0.5% budget:
    # the 3d/6h ticket only), 10% failing (burn 100 of a 0.1% budget: page and ticket).
    series = [
        {"series": f"edgewise_request_duration_seconds_count{{{fe}}}", "values": "0+1024x300"},
        {"series": f'edgewise_request_duration_seconds_bucket{{{fe},le="0.4"}}',
         "values": "0+1013.76x300"},
        {"series": f"edgewise_requests_total{{{fe}}}", "values": "0+1024x300"},
        {"series": f"edgewise_request_errors_total{{{fe}}}", "values": "0+102.4x300"},
    ]
    doc = {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [
            {"expr": f"round(edgewise_slo:sli_error:ratio_rate5m{{{LAT}}}, 0.0001)",
             "eval_time": "4h", "exp_samples": [{"labels": f"{{{LAT}}}", "value": 0.01}]},
            {"expr": f"round(edgewise_slo:sli_error:ratio_window{{{AVA}}}, 0.0001)",
             "eval_time": "4h",
             "exp_samples": [{"labels": f'{{{AVA},window="28d"}}', "value": 0.1}]},
            {"expr": f"round(edgewise_slo:error_budget_remaining:ratio{{{LAT}}}, 0.0001)",
             "eval_time": "4h", "exp_samples": [{"labels": f"{{{LAT}}}", "value": -1}]},
            {"expr": f"edgewise_slo:objective:ratio{{{AVA}}}", "eval_time": "4h",
             "exp_samples": [{"labels": f'edgewise_slo:objective:ratio{{{AVA}}}', "value": 0.999}]},
        ],
        "alert_rule_test": [
            {"eval_time": "4h", "alertname": ALERT,
             "exp_alerts": _alerts("shop-latency", ["ticket"])
             + _alerts("shop-availability", ["page", "ticket"])},
            {"eval_time": "4h", "alertname": "NoSuchAlert", "exp_alerts": []},
        ],
    }]}
    test_file = tmp_path / "slo_test.yaml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr
