"""An API key for tests that run against the real Graph's rules (GRAPH_MODE=live needs caller
authentication): the key, its API_KEYS entry, and the header that presents it."""

from __future__ import annotations

from app.auth.api_keys import key_digest

ADMIN_KEY = "tests-admin-key-2c6f0b5e8d9a4f1c"
API_KEYS = f"tests:admin:{key_digest(ADMIN_KEY)}"
ADMIN_HEADERS = {"X-API-Key": ADMIN_KEY}
