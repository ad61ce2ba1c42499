"""Routes of /v1/devices (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/devices", tags=["devices"])
