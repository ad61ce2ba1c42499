"""Reads the catalog through Graph, caches it briefly, and resolves what a rollout names."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from app.graph.client import GraphClient
from app.graph.wire import CatalogEntry, FeatureUpdateCatalogEntry, QualityUpdateCatalogEntry
from app.problems import FieldError, ProblemError

E = TypeVar("E", bound=CatalogEntry)


class UnknownUpdate(ProblemError):
    type = "urn:problem:unknown-update"
    title = "No such update in the catalog"
    status = 422


class UpdateNotDeployable(ProblemError):
    type = "urn:problem:update-not-deployable"
    title = "The update can no longer be deployed"
    status = 422


class UpdateNotExpeditable(ProblemError):
    type = "urn:problem:update-not-expeditable"
    title = "The update cannot be expedited"
    status = 422


def is_deployable(entry: CatalogEntry, now: datetime) -> bool:
    """True while the entry's deployableUntil is in the future (or unset)."""
    until = entry.deployable_until_date_time
    return until is None or until > now


class _CachedList(Generic[E]):
    """One catalog list, fetched at most once per TTL however many callers ask at once."""

    def __init__(self, fetch: Callable[[], Awaitable[list[E]]], ttl_seconds: float) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._lock = asyncio.Lock()
        self._value: list[E] | None = None
        self._fetched_at = 0.0

    async def get(self) -> list[E]:
        if self._fresh():
            assert self._value is not None
            return self._value
        async with self._lock:
            if not self._fresh():
                self._value = await self._fetch()
                self._fetched_at = time.monotonic()
            assert self._value is not None
            return self._value

    def _fresh(self) -> bool:
        return self._value is not None and time.monotonic() - self._fetched_at < self._ttl


class CatalogService:
    """The feature and quality update catalogs of the tenant."""

    def __init__(
        self,
        graph: GraphClient,
        *,
        ttl_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock
        self._features = _CachedList(self._fetch_features, ttl_seconds)
        self._qualities = _CachedList(self._fetch_qualities, ttl_seconds)
        self._graph = graph

    async def _fetch_features(self) -> list[FeatureUpdateCatalogEntry]:
        entries = (await self._graph.list_catalog_entries("feature")).value
        return sorted(entries, key=_newest_first)

    async def _fetch_qualities(self) -> list[QualityUpdateCatalogEntry]:
        entries = (await self._graph.list_catalog_entries("quality")).value
        return sorted(entries, key=_newest_first)

    async def feature_updates(self) -> list[FeatureUpdateCatalogEntry]:
        """Every feature update, newest release first."""
        return await self._features.get()

    async def quality_updates(self) -> list[QualityUpdateCatalogEntry]:
        """Every quality update, newest release first."""
        return await self._qualities.get()

    async def resolve_feature(
        self, *, version: str | None, entry_id: str | None
    ) -> FeatureUpdateCatalogEntry:
        """The deployable feature update a rollout names, or a 422 problem saying why not."""
        entries = await self.feature_updates()
        if version is not None:
            wanted = version.strip().casefold()
            matches = [e for e in entries if (e.version or "").casefold() == wanted]
            field, value = "update.version", version
        else:
            matches = [e for e in entries if e.id == entry_id]
            field, value = "update.catalogEntryId", entry_id or ""
        if not matches:
            known = ", ".join(sorted({e.version for e in entries if e.version}))
            raise UnknownUpdate(
                f"No feature update {value!r} in the catalog. Known versions: {known}.",
                errors=[FieldError(field=field, message="not in the catalog")],
            )
        return self._deployable(matches, field)

    async def resolve_quality(self, *, entry_id: str, expedite: bool) -> QualityUpdateCatalogEntry:
        """The deployable quality update a rollout names, or a 422 problem saying why not."""
        matches = [e for e in await self.quality_updates() if e.id == entry_id]
        field = "update.catalogEntryId"
        if not matches:
            raise UnknownUpdate(
                f"No quality update {entry_id!r} in the catalog.",
                errors=[FieldError(field=field, message="not in the catalog")],
            )
        entry = self._deployable(matches, field)
        if expedite and not entry.is_expeditable:
            raise UpdateNotExpeditable(
                f"{entry.display_name or entry.id} cannot be expedited.",
                errors=[FieldError(field="update.expedite", message="update is not expeditable")],
            )
        return entry

    def _deployable(self, matches: list[E], field: str) -> E:
        now = self.clock()
        for entry in matches:
            if is_deployable(entry, now):
                return entry
        entry = matches[0]
        until = entry.deployable_until_date_time
        raise UpdateNotDeployable(
            f"{entry.display_name or entry.id} could be deployed until "
            f"{until.date().isoformat() if until else '?'}; choose a newer update.",
            errors=[FieldError(field=field, message="past its deployable date")],
        )


def _newest_first(entry: CatalogEntry) -> float:
    released = entry.release_date_time
    return -released.timestamp() if released else 0.0
