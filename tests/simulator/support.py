"""Shared helpers for simulator tests: bodies, ids and small HTTP shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from app.simulator import catalog

ROOT = "/beta/admin/windows/updates"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NS = "microsoft.graph.windowsUpdates"
DEVICE = f"#{NS}.azureADDevice"


def content(
    entry_id: str = catalog.WIN11_24H2, kind: str = "featureUpdateCatalogEntry"
) -> dict[str, Any]:
    """A catalogContent body for an entry."""
    return {
        "@odata.type": f"#{NS}.catalogContent",
        "catalogEntry": {"@odata.type": f"#{NS}.{kind}", "id": entry_id},
    }


def quality_content(entry_id: str = catalog.QUALITY_2026_11_B) -> dict[str, Any]:
    """A catalogContent body for a quality update."""
    return content(entry_id, "qualityUpdateCatalogEntry")


def devices(*ids: str) -> list[dict[str, str]]:
    """azureADDevice references."""
    return [{"@odata.type": DEVICE, "id": i} for i in ids]


def guid(n: int) -> str:
    """A deterministic device GUID that no registration rule flags."""
    return f"0000{n:04x}-0000-4000-8000-{n:012x}"


async def create_deployment(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """POST a deployment (default: Windows 11 24H2, no settings) and return its body."""
    payload = {"content": content(), **body}
    response = await client.post(f"{ROOT}/deployments", json=payload)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def get_deployment(client: httpx.AsyncClient, deployment_id: str) -> dict[str, Any]:
    """GET a deployment body (asserting 200)."""
    response = await client.get(f"{ROOT}/deployments/{deployment_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def state_of(deployment: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(effectiveValue, requestedValue, reason values) of a deployment body."""
    st = deployment["state"]
    return st["effectiveValue"], st["requestedValue"], [r["value"] for r in st["reasons"]]


def error_code(response: httpx.Response) -> str:
    """The Graph error code of an error response."""
    code: str = response.json()["error"]["code"]
    return code
