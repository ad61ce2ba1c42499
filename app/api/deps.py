"""FastAPI dependencies: shared state, the request's unit of work, Graph, catalog, caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from app.auth.roles import Principal
from app.catalog.service import CatalogService
from app.change_context import ChangeContext
from app.graph.client import GraphClient
from app.request_context import current_request_id
from app.state import AppState
from app.unit_of_work import UnitOfWork, committed


def get_app_state(request: Request) -> AppState:
    """The AppState the lifespan built."""
    state: AppState = request.app.state.services
    return state


async def app_state(request: Request) -> AppState:
    """get_app_state as a dependency. Async on purpose, as are the dependencies below: FastAPI
    runs a plain `def` dependency in a worker thread, a thread hop on every request."""
    return get_app_state(request)


AppStateDep = Annotated[AppState, Depends(app_state)]


async def get_unit_of_work(state: AppStateDep) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work: commits when the handler succeeds, else rolls back."""
    async with state.sessionmaker() as session, committed(session) as uow:
        yield uow


# scope="function": the commit happens before the response is sent, so a 2xx means it is durable.
UowDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def get_graph(state: AppStateDep) -> GraphClient:
    """The process's Graph client."""
    return state.graph


GraphDep = Annotated[GraphClient, Depends(get_graph)]


async def get_catalog(state: AppStateDep) -> CatalogService:
    """The process's (briefly cached) catalog."""
    return state.catalog


CatalogDep = Annotated[CatalogService, Depends(get_catalog)]


def change_context(caller: Principal, ticket: str | None, reason: str | None) -> ChangeContext:
    """The audit context of a change made by this request's caller."""
    return ChangeContext(
        actor=caller.name,
        ticket=ticket,
        reason=reason,
        request_id=current_request_id(),
        approved_by=caller.approved_by,
        change_id=caller.change_id,
    )
