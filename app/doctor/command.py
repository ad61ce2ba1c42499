"""Run the doctor's checks in order and print one line per check."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from pydantic import ValidationError

from app.doctor.callers import check_callers
from app.doctor.database import check_database, database_failed
from app.doctor.graph import check_configured_graph
from app.doctor.report import Check
from app.embedded_db import start_embedded_postgres, stop_embedded_postgres
from app.settings import Settings, refusal_message
from app.simulator.state import SimulatorState

CONFIGURATION_FIX = "change the environment as the message says, then run doctor again"
EMBEDDED_FIX = "set DATABASE_URL to the production PostgreSQL, or make DATA_DIR writable"


def describe(settings: Settings) -> str:
    """Which Graph and which credential the configuration names (never a secret)."""
    if settings.graph_mode == "simulator":
        return "GRAPH_MODE=simulator: the built-in Graph simulator, not a real tenant"
    credential = (
        f"certificate {settings.graph_client_certificate_path}"
        if settings.graph_client_certificate_path
        else "client secret"
    )
    return (
        f"GRAPH_MODE=live: tenant {settings.graph_tenant_id} at {settings.graph_authority_host},"
        f" app {settings.graph_client_id} with a {credential}, Graph at {settings.graph_base_url}"
    )


def _database_checks(settings: Settings) -> list[Check]:
    """check_database on DATABASE_URL, else on the embedded PostgreSQL (started and stopped)."""
    if settings.database_url:
        return check_database(settings.database_url)
    try:
        url = start_embedded_postgres(settings.data_dir)
    except Exception as exc:
        detail = f"the embedded PostgreSQL under {settings.data_dir} did not start: {exc}"
        return database_failed(detail, EMBEDDED_FIX)
    try:
        return check_database(url)
    finally:
        stop_embedded_postgres(settings.data_dir)


def _check_groups(
    settings: Settings, simulator_state: SimulatorState | None
) -> Iterator[list[Check]]:
    """The checks of a loaded configuration, a group at a time, so each prints when it is done."""
    yield [Check.ok("configuration", describe(settings))]
    yield [asyncio.run(check_callers(settings))]
    yield _database_checks(settings)
    yield asyncio.run(check_configured_graph(settings, simulator_state))


def run_doctor(
    settings: Settings | None = None,
    *,
    simulator_state: SimulatorState | None = None,
    out: TextIO | None = None,
) -> int:
    """Check the configuration (from the environment unless given), print one line per check,
    and return the exit status: 1 if any check failed, else 0."""
    groups: Iterable[list[Check]]
    try:
        groups = _check_groups(settings or Settings(), simulator_state)
    except ValidationError as exc:
        groups = [[Check.failed("configuration", refusal_message(exc), CONFIGURATION_FIX)]]
    failed = False
    for group in groups:
        for check in group:
            print(check.line(), file=out or sys.stdout, flush=True)
            failed = failed or check.status == "FAILED"
    return 1 if failed else 0
