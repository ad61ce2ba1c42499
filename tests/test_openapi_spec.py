"""The committed openapi/openapi.json is exactly what the app produces."""

from __future__ import annotations

import json

from app.__main__ import DEFAULT_SPEC_PATH, export_openapi_text
from tests.db_server import REPO


def test_committed_spec_matches_the_app() -> None:
    committed = (REPO / DEFAULT_SPEC_PATH).read_text(encoding="utf-8")
    assert committed == export_openapi_text(), (
        "openapi/openapi.json is stale: run `python -m app export-openapi` and commit it"
    )


def test_operation_ids_are_unique_and_camel_case() -> None:
    spec = json.loads(export_openapi_text())
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert all(i[0].islower() and "_" not in i for i in ids), ids
