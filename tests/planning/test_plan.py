from __future__ import annotations

import copy
import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import yaml

from edgewise.cli import main
from envs.capacity import lead_schedule, required_replicas
from envs.scenario import load_scenario
from planning.plan import (
    PlanSettings,
    burst_by_hour_of_day,
    floor_schedule,
    make_plan,
    run_point,
)
from scaler.forecast_features import hourly

SCHEMAS = resources.files("planning.schema")
KEDA = json.loads(SCHEMAS.joinpath("keda-scaledobject-v1alpha1.schema.json").read_text())
HPA = json.loads(SCHEMAS.joinpath("hpa-autoscaling-v2.schema.json").read_text())
BASE_HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "x"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
             "minReplicas": 1, "maxReplicas": 300,
             "metrics": [{"type": "Resource", "resource": {
                 "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
}


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    code = main(["plan", "--scenario", "flash-sale", "--uplifts", "1,5,9", "--shifts", "0,2",
                 "--out", str(out)])
    assert code == 0
    return out


def test_plan_outputs_validate(plan_dir: Path) -> None:
    scaled = list(yaml.safe_load_all((plan_dir / "keda-scaledobjects.yaml").read_text()))
    assert len(scaled) == 12
    for doc in scaled:
        jsonschema.validate(doc, KEDA)
    crons = [t for d in scaled for t in d["spec"]["triggers"] if t["type"] == "cron"]
    assert crons and all(int(t["metadata"]["desiredReplicas"]) > 0 for t in crons)
    patches = list(yaml.safe_load_all((plan_dir / "hpa-patches.yaml").read_text()))
    for p in patches:
        merged = _merge(BASE_HPA, p)
        jsonschema.validate(merged, HPA)
        assert merged["spec"]["minReplicas"] <= merged["spec"]["maxReplicas"]
    rows = (plan_dir / "plan.csv").read_text().splitlines()
    assert rows[0].startswith("hour_start,p50_rps,p90_rps,burst,planned_rps,frontend")
    assert len(rows) == 1 + json.loads((plan_dir / "plan.json").read_text())["window"]["hours"]
    page = (plan_dir / "plan.html").read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 4


def test_bad_cron_is_rejected_by_schema(plan_dir: Path) -> None:
    doc = next(yaml.safe_load_all((plan_dir / "keda-scaledobjects.yaml").read_text()))
    cron = next(t for t in doc["spec"]["triggers"] if t["type"] == "cron")
    cron["metadata"]["start"] = "61 25 * * *"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, KEDA)


def test_sweep_moves_with_uplift(plan_dir: Path) -> None:
    sweep = json.loads((plan_dir / "plan.json").read_text())["sweep"]
    on_time = {p["uplift"]: p for p in sweep if p["shift_hours"] == 0}
    assert on_time[1.0]["event_violation_minutes"] <= on_time[5.0]["event_violation_minutes"]
    assert on_time[9.0]["violation_minutes"] > on_time[1.0]["violation_minutes"]
    assert on_time[9.0]["dropped_requests"] > on_time[5.0]["dropped_requests"]


def test_floor_covers_the_twins_startup_lead() -> None:
    sc = load_scenario("flash-sale")
    plan = make_plan(sc, PlanSettings())
    config = sc.config()
    ticks = plan.window.hours * 60
    hourly_need = np.repeat(plan.replicas, 60, axis=0)
    floor = floor_schedule(plan, config, ticks)
    lead = lead_schedule(config, hourly_need)
    assert (floor[:-10] >= lead[:-10]).all()  # the last ticks look past the window
    # the planned schedule holds the SLO at the planned uplift, on time (the twin's verdict)
    point = run_point(sc, plan, sc.calendar[0].multiplier, 0.0)
    assert point.event_violation_minutes == 0
    assert required_replicas(config, plan.planned_rps).shape == plan.replicas.shape


@pytest.mark.parametrize(("argv", "needle"), [
    (["--scenario", "no-such-scenario"], "no-such-scenario"),
    (["--scenario", "normal-week"], "no announced event"),
    (["--scenario", "flash-sale", "--event", "nope"], "nope"),
    (["--scenario", "flash-sale", "--headroom", "0"], "headroom"),
    (["--scenario", "flash-sale", "--burst-quantile", "1.5"], "burst-quantile"),
])
def test_plan_bad_input_exit_2(argv: list[str], needle: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_burst_is_what_an_hourly_mean_hides_not_the_slope() -> None:
    start = datetime(2026, 11, 2)  # a midnight: hour index = hour of day
    days, per = 7, 60
    minutes = np.arange(days * 24 * per)
    rps = 250.0 + 150.0 * np.sin(2 * np.pi * minutes / (24 * per))  # a steep daily cycle
    for d in range(days):  # a 30% spike once an hour at 03:00 on every day
        rps[(d * 24 + 3) * per + 20] *= 1.3
    burst = burst_by_hour_of_day(rps, hourly(rps, start, 60), start, 60, 0.9)
    assert burst[3] == pytest.approx(1.3, rel=0.02)
    others = np.delete(burst, 3)
    assert (others < 1.01).all()  # the daily rise and fall are no burst
