"""`edgewise forecast | plan`: bad flags, files and outputs exit 2 with one line naming them;
a forecast never overwrites its input trace; nothing is written for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_bad_input, run_cli

PLAN_FLAG_CASES = [
    (["--headroom", "nan"], "--headroom: must be a finite number"),
    (["--headroom", "inf"], "--headroom"),
    (["--headroom", "0"], "--headroom: must be > 0"),
    (["--headroom", "-1"], "--headroom"),
    (["--uplifts", "1,nan,3"], "--uplifts"),
    (["--uplifts", "1,-2"], "--uplifts"),
    (["--uplifts", ""], "--uplifts"),
    (["--shifts", "inf"], "--shifts"),
    (["--shifts", "-1000"], "--shifts"),
    (["--burst-quantile", "nan"], "--burst-quantile"),
    (["--burst-quantile", "1.5"], "--burst-quantile"),
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--timezone", "../../etc/passwd"], "--timezone"),
    (["--namespace", "Not_A_Label"], "--namespace: 'Not_A_Label' is not a DNS-1123 label"),
    (["--namespace", "a" * 64], "--namespace"),
    (["--namespace", "x\ny"], "--namespace"),
    (["--seed", "-1"], "--seed"),
    (["--jobs", "0"], "--jobs"),
]


@pytest.mark.parametrize(("flags", "needle"), PLAN_FLAG_CASES)
def test_bad_plan_flags(tmp_path: Path, flags: list[str], needle: str) -> None:
    out = tmp_path / "out"
    assert_bad_input(run_cli("plan", "--scenario", "flash-sale", *flags, "--out", out), needle)
    assert not out.exists()


def test_plan_refuses_existing_outputs_and_a_file_as_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keda-scaledobjects.yaml").write_text("mine\n")
    assert_bad_input(run_cli("plan", "--scenario", "flash-sale", "--out", out),
                     "keda-scaledobjects.yaml exists (use --force")
    assert (out / "keda-scaledobjects.yaml").read_text() == "mine\n"
    (tmp_path / "f").write_text("")
    assert_bad_input(run_cli("plan", "--scenario", "flash-sale", "--out", tmp_path / "f"),
                     "is not a directory")


def test_plan_never_overwrites_its_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "plan.csv"
    scenario.write_text("name: s\n")
    # a .csv scenario is not a file path to load_scenario, so name it .yaml via a link
    link = tmp_path / "s.yaml"
    link.symlink_to(scenario)
    r = run_cli("plan", "--scenario", link, "--out", tmp_path, "--force")
    assert_bad_input(r, "plan.csv would overwrite the input")
    assert scenario.read_text() == "name: s\n"


def _trace(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


FORECAST_CASES = [
    ("timestamp nan", "timestamp,rate\n0,1\nnan,2\n", "line 3: timestamp 'nan'"),
    ("timestamp inf", "timestamp,rate\ninf,1\n", "line 2: timestamp 'inf'"),
    ("duplicate", "timestamp,rate\n0,1\n3600,1\n3600,5\n", "line 4: duplicate timestamp"),
    ("rate nan", "timestamp,rate\n0,nan\n", "rate must be a finite number"),
    ("year 10000", "timestamp\n1e15\n", "timestamp '1e15'"),
]


@pytest.mark.parametrize(("text", "needle"), [c[1:] for c in FORECAST_CASES],
                         ids=[c[0] for c in FORECAST_CASES])
def test_bad_forecast_traces(tmp_path: Path, text: str, needle: str) -> None:
    trace = _trace(tmp_path / "t.csv", text)
    assert_bad_input(run_cli("forecast", "--trace", trace, "--out", tmp_path / "o"), needle)


def test_forecast_never_overwrites_its_input_trace(tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = "timestamp,rate\n" + "".join(f"{h * 3600},{10 + h % 24}\n" for h in range(24 * 9))
    trace = _trace(out / "forecast.csv", text)
    for extra in ((), ("--force",)):
        r = run_cli("forecast", "--trace", trace, "--out", out, *extra)
        assert_bad_input(r, "forecast.csv would overwrite the input")
    assert trace.read_text() == text


@pytest.mark.parametrize(("make", "needle"), [
    (lambda d: d / "none.csv", "No such file or directory"),
    (lambda d: d, "Is a directory"),
    (lambda d: (d / "b.csv").write_bytes(b"timestamp\n\xff\xfe\n") and d / "b.csv",
     "not UTF-8 text"),
], ids=["missing", "directory", "binary"])
def test_unreadable_trace_file(tmp_path: Path, make: object, needle: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert_bad_input(run_cli("forecast", "--trace", path, "--out", tmp_path / "o"), needle)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--horizon", "99999d"], "--horizon"),
    (["--horizon", "0h"], "--horizon"),
    (["--seed", "-3"], "--seed"),
])
def test_bad_forecast_flags(tmp_path: Path, flags: list[str], needle: str) -> None:
    trace = _trace(tmp_path / "t.csv", "timestamp,rate\n0,1\n")
    assert_bad_input(run_cli("forecast", "--trace", trace, *flags, "--out", tmp_path / "o"),
                     needle)
