"""slo/ is pure (no web framework, no Kubernetes client, no HTTP); fastapi is imported only
under edgewise/api/."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
FORBIDDEN_IN_SLO = {"fastapi", "starlette", "kubernetes", "requests", "sqlalchemy", "edgewise"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("path", sorted((REPO / "slo").glob("*.py")), ids=lambda p: p.name)
def test_slo_is_pure(path: Path) -> None:
    assert not _imports(path) & FORBIDDEN_IN_SLO


def test_fastapi_only_in_edgewise_api() -> None:
    offenders = [p.relative_to(REPO) for pkg in ("edgewise", "envs", "scaler", "placement",
                                                  "slices", "training", "slo", "bench")
                 for p in (REPO / pkg).rglob("*.py")
                 if {"fastapi", "starlette"} & _imports(p)
                 and (REPO / "edgewise/api") not in p.parents]
    assert offenders == []
