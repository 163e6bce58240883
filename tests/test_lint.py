"""The layout holds: import contracts, ruff and mypy clean (what scripts/lint and CI run), and
the controller's modules load without gymnasium or torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return str(found)


@pytest.mark.parametrize("command", [["lint-imports"], ["ruff", "check", "."], ["mypy"]],
                         ids=["lint-imports", "ruff", "mypy"])
def test_static_check_passes(command: list[str]) -> None:
    run = subprocess.run([_tool(command[0]), *command[1:]], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


@pytest.mark.parametrize("module", ["controller.reconcile", "controller.loop", "controller.kube",
                                    "edgewise.controller_cmd", "scaler.learned.manifest",
                                    "scaler.learned.runtime", "controller.model",
                                    "controller.assembly"])
def test_controller_modules_do_not_import_gymnasium_or_torch(module: str) -> None:
    """Nor does the learned-policy runtime: it loads an export without torch or SB3."""
    code = (f"import sys, json; import {module}; "
            "print(json.dumps(sorted(m for m in ('gymnasium', 'torch', 'stable_baselines3') "
            "if m in sys.modules)))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(run.stdout) == [], f"{module} imports {run.stdout.strip()}"


def test_gym_envs_are_registered_by_the_registration_module_not_by_import_envs() -> None:
    code = ("import sys, envs, envs.graph, gymnasium as gym; "
            "from gymnasium.envs.registration import registry; "
            "assert 'edgewise/Autoscale-v4' not in registry, 'import envs registered'; "
            "env = gym.make('envs.registration:edgewise/Autoscale-v4'); "
            "print(type(env.unwrapped).__module__)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "envs.autoscale_v2"
