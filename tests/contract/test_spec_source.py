"""The vendored OpenAPI is in the repository, unchanged, and SOURCE.md says where it came from."""

from __future__ import annotations

import hashlib
import re

from tests.contract import msgraph_schema

SOURCE = msgraph_schema.SPEC_DIR / "SOURCE.md"


def test_the_spec_is_vendored_inside_the_repository() -> None:
    repo = msgraph_schema.SPEC_PATH.parents[3]
    assert msgraph_schema.SPEC_PATH.is_file()
    assert msgraph_schema.SPEC_PATH.is_relative_to(repo / "tests")
    assert msgraph_schema.load_spec()["info"]["title"] == "WindowsUpdates"


def test_source_md_names_the_sha256_of_the_copy_and_carries_the_licence() -> None:
    text = SOURCE.read_text(encoding="utf-8")
    digest = hashlib.sha256(msgraph_schema.SPEC_PATH.read_bytes()).hexdigest()
    assert re.search(rf"SHA-256 \| `{digest}`", text), "update SOURCE.md after changing the YAML"
    assert "microsoftgraph/msgraph-sdk-powershell" in text
    assert "openApiDocs/beta/WindowsUpdates.yml" in text
    assert re.search(r"Commit \| `[0-9a-f]{40}`", text)
    assert "Copyright 2019 Microsoft Graph" in text
    assert "Permission is hereby granted, free of charge" in text
