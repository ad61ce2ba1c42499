"""Graph catalog entries → the public API's simple shapes."""

from __future__ import annotations

from datetime import datetime

from app.catalog.schemas import FeatureUpdateOut, QualityUpdateOut
from app.catalog.service import is_deployable
from app.graph.wire import FeatureUpdateCatalogEntry, QualityUpdateCatalogEntry


def feature_out(entry: FeatureUpdateCatalogEntry, now: datetime) -> FeatureUpdateOut:
    """The public view of a feature update."""
    return FeatureUpdateOut(
        catalogEntryId=entry.id,
        version=entry.version,
        displayName=entry.display_name,
        buildNumber=entry.build_number,
        releasedAt=entry.release_date_time,
        deployableUntil=entry.deployable_until_date_time,
        deployable=is_deployable(entry, now),
    )


def quality_out(entry: QualityUpdateCatalogEntry, now: datetime) -> QualityUpdateOut:
    """The public view of a quality update."""
    severity = entry.cve_severity_information
    return QualityUpdateOut(
        catalogEntryId=entry.id,
        displayName=entry.display_name,
        shortName=entry.short_name,
        classification=entry.quality_update_classification,
        cadence=entry.quality_update_cadence,
        isExpeditable=bool(entry.is_expeditable),
        maxSeverity=severity.max_severity if severity else None,
        releasedAt=entry.release_date_time,
        deployableUntil=entry.deployable_until_date_time,
        deployable=is_deployable(entry, now),
    )
