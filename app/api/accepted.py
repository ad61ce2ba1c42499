"""Answering a request whose work continues in an operation: 202 + Location, or with
`Prefer: wait=N` the finished operation (200) if it finished within N seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Header, Response

from app.api.deps import AppStateDep, UowDep
from app.api.problems import problem_responses
from app.operations.models import Operation
from app.operations.schemas import OperationOut
from app.operations.views import operation_out

MAX_WAIT_SECONDS = 60
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d+)", re.IGNORECASE)


def accepted_responses(*problems: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a route answering 202 with an operation (200 within Prefer: wait)."""
    return {
        200: {"description": "Finished within `Prefer: wait`", "model": OperationOut},
        **problem_responses(*problems),
    }


PreferHeader = Annotated[
    str | None,
    Header(
        max_length=200,
        description="`wait=N` (N ≤ 60): answer 200 with the finished operation if it finishes"
        " within N seconds (else 202)",
    ),
]


def prefer_wait_seconds(prefer: str | None) -> int:
    """RFC 7240 `Prefer: wait=N`, capped at 60 seconds; 0 when absent."""
    match = _PREFER_WAIT.search(prefer or "")
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else 0


async def accepted_operation(
    state: AppStateDep,
    uow: UowDep,
    response: Response,
    operation: Operation,
    prefer: str | None,
) -> OperationOut:
    """The operation as the answer of the request that queued it (already committed)."""
    response.headers["Location"] = f"/v1/operations/{operation.id}"
    wait = prefer_wait_seconds(prefer) if uow.dry_run is None else 0
    if wait:
        finished = await state.operations.wait(operation.id, wait)
        if finished is not None:
            response.status_code = 200
            response.headers["Preference-Applied"] = f"wait={wait}"
    await uow.session.refresh(operation)
    return await operation_out(uow.session, operation)
