"""docs/openapi.json is the app's schema; a change to the API must regenerate it:
    python -m edgewise.api.openapi > docs/openapi.json"""

import json
from pathlib import Path

from edgewise.api.openapi import schema

COMMITTED = Path(__file__).parents[3] / "docs/openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    assert json.loads(COMMITTED.read_text()) == schema(), \
        "the API changed: python -m edgewise.api.openapi > docs/openapi.json"


def test_every_route_has_tags_and_a_stable_operation_id() -> None:
    for path, ops in schema()["paths"].items():
        for method, op in ops.items():
            assert op.get("tags"), (method, path)
            assert "_" in op["operationId"] and "api_v1" not in op["operationId"], op
