"""`edgewise shop serve`: every bad flag is exit 2 and one line naming it."""

from __future__ import annotations

import pytest

from tests.support.cli import assert_bad_input, run_cli

SERVE = ("shop", "serve")


@pytest.mark.parametrize("argv, needle", [
    (("--service", "Front_End"), "--service"),
    (("--service", "f", "--cpu-ms", "-1"), "--cpu-ms"),
    (("--service", "f", "--cpu-ms", "nan"), "--cpu-ms"),
    (("--service", "f", "--startup-seconds", "4000"), "--startup-seconds"),
    (("--service", "f", "--concurrency", "0"), "--concurrency"),
    (("--service", "f", "--port", "70000"), "--port"),
    (("--service", "f", "--call", "bad name"), "--call"),
    (("--service", "f", "--endpoints", "checkout=nowhere"), "--endpoints"),
    (("--service", "f", "--distribution", "normal"), "--distribution"),
    ((), "--service"),
])
def test_bad_flags(argv: tuple[str, ...], needle: str) -> None:
    assert_bad_input(run_cli(*SERVE, *argv), needle)


def test_help_names_the_probes_and_the_histograms() -> None:
    r = run_cli(*SERVE, "--help")
    assert r.code == 0
    assert "/readyz" in r.out and "histograms" in r.out
