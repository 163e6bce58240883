"""The bench's scenario list: both unseen graphs in every mode, and `--only` by name."""

from __future__ import annotations

import pytest

from bench.rl_vs_baselines import UNSEEN, check_only, main, scenario_names, scenarios


def test_both_unseen_graphs_run_in_the_full_and_the_quick_mode() -> None:
    assert UNSEEN == {"hotel-travel-sale": "hotel-reservation",
                      "sock-shop-cyber-monday": "sock-shop"}
    for quick in (False, True):
        assert set(UNSEEN) <= set(scenario_names(quick))


def test_only_runs_the_named_scenarios_in_the_full_runs_order() -> None:
    picked = scenarios(False, ["sock-shop-cyber-monday", "black-friday"])
    assert [name for name, _, _ in picked] == ["black-friday", "sock-shop-cyber-monday"]
    name, sc, announced = picked[1]
    assert sc.graph.name == UNSEEN[name] and announced
    assert check_only(["random-surprise-2", " bank-calls "]) == ["random-surprise-2", "bank-calls"]


def test_only_refuses_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'sock-shop'"):
        check_only(["black-friday", "sock-shop"])
    with pytest.raises(ValueError, match="no scenario"):
        check_only(["", " "])
    with pytest.raises(SystemExit) as e:
        main(["--only", "hotel-travel-sale,nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'nope'" in err and "sock-shop-cyber-monday" in err
    with pytest.raises(SystemExit):
        main(["--only", "black-friday", "--quick"])
