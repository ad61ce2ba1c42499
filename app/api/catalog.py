"""Routes of /v1/catalog: the updates that rollouts can deliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CatalogDep
from app.api.problems import problem_responses
from app.api.security import READER
from app.api_types import Page
from app.catalog.mapping import feature_out, quality_out
from app.catalog.schemas import FeatureUpdateOut, QualityUpdateOut
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, offset_page

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])

GRAPH_PROBLEMS = problem_responses(400, 502, 503, 504)


@router.get(
    "/feature-updates",
    dependencies=[READER],
    summary="List feature updates",
    responses=GRAPH_PROBLEMS,
)
async def list_feature_updates(
    catalog: CatalogDep,
    deployable: Annotated[
        bool | None, Query(description="true: only updates that can still be deployed")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[FeatureUpdateOut]:
    """Windows feature updates from Graph's catalog, newest release first.

    Answers are cached for `CATALOG_CACHE_SECONDS`, so a burst of callers costs one Graph call.
    """
    now = catalog.clock()
    items = [feature_out(e, now) for e in await catalog.feature_updates()]
    if deployable is not None:
        items = [i for i in items if i.deployable == deployable]
    page, next_cursor = offset_page(items, limit, cursor)
    return Page[FeatureUpdateOut](items=page, nextCursor=next_cursor)


@router.get(
    "/quality-updates",
    dependencies=[READER],
    summary="List quality updates",
    responses=GRAPH_PROBLEMS,
)
async def list_quality_updates(
    catalog: CatalogDep,
    expeditable: Annotated[
        bool | None, Query(description="true: only updates that can be expedited")
    ] = None,
    deployable: Annotated[
        bool | None, Query(description="true: only updates that can still be deployed")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[QualityUpdateOut]:
    """Windows quality updates from Graph's catalog, newest release first (cached briefly)."""
    now = catalog.clock()
    items = [quality_out(e, now) for e in await catalog.quality_updates()]
    if expeditable is not None:
        items = [i for i in items if i.isExpeditable == expeditable]
    if deployable is not None:
        items = [i for i in items if i.deployable == deployable]
    page, next_cursor = offset_page(items, limit, cursor)
    return Page[QualityUpdateOut](items=page, nextCursor=next_cursor)
