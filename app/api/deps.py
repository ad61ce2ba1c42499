"""FastAPI dependencies: the shared state and the one session that commits per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.state import AppState


def get_app_state(request: Request) -> AppState:
    """The AppState the lifespan built."""
    state: AppState = request.app.state.services
    return state


AppStateDep = Annotated[AppState, Depends(get_app_state)]


async def get_session(state: AppStateDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commits once when the handler succeeds, else rolls back."""
    async with state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
