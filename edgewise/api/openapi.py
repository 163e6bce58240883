"""The OpenAPI document of /api/v1, as committed in docs/openapi.json:
`python -m edgewise.api.openapi > docs/openapi.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def schema() -> dict[str, Any]:
    from edgewise.api.app import create_app
    from edgewise.api.auth import Authenticator
    from edgewise.api.context import Context
    from edgewise.api.readings import Readings
    from edgewise.api.store import Store

    store = Store("sqlite://")  # in memory: the schema needs no data
    app = create_app(Context(store, Authenticator(store), Readings((), None, None), None))
    doc: dict[str, Any] = app.openapi()
    return doc


def main() -> int:
    text = json.dumps(schema(), indent=2, sort_keys=True) + "\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
