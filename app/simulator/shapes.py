"""The shapes of the complex types a client may send in deployment bodies (names as Graph's)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """How one property is checked: kind, constraints, nullability and whether it is required."""

    kind: str  # str | bool | int | datetime | duration | enum | obj | list
    type: str | None = None
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = True
    required: bool = False
    item: Field | None = None


def obj(type_name: str, *, required: bool = False) -> Field:
    """A nested complex-typed object."""
    return Field("obj", type=type_name, required=required)


def enum(*values: str, required: bool = False, nullable: bool = True) -> Field:
    """A string from a fixed set."""
    return Field("enum", values=values, required=required, nullable=nullable)


def list_of(item: Field) -> Field:
    """A JSON array of `item`."""
    return Field("list", item=item)


TYPES: dict[str, dict[str, Field]] = {
    "deployment": {
        "content": obj("deployableContent", required=True),
        "settings": obj("deploymentSettings"),
        "audience": obj("deploymentAudience"),
        "state": obj("deploymentState"),
    },
    "deploymentAudience": {"id": Field("str", nullable=False, required=True)},
    "deploymentState": {
        "requestedValue": enum("none", "paused", "archived", nullable=False, required=True)
    },
    "deployableContent": {},
    "catalogContent": {"catalogEntry": obj("catalogEntry", required=True)},
    "catalogEntry": {"id": Field("str", nullable=False, required=True)},
    "featureUpdateCatalogEntry": {"id": Field("str", nullable=False, required=True)},
    "qualityUpdateCatalogEntry": {"id": Field("str", nullable=False, required=True)},
    "deploymentSettings": {
        "schedule": obj("scheduleSettings"),
        "monitoring": obj("monitoringSettings"),
        "userExperience": obj("userExperienceSettings"),
        "contentApplicability": obj("contentApplicabilitySettings"),
        "expedite": obj("expediteSettings"),
    },
    "scheduleSettings": {
        "startDateTime": Field("datetime"),
        "gradualRollout": obj("gradualRolloutSettings"),
    },
    "gradualRolloutSettings": {"durationBetweenOffers": Field("duration")},
    "rateDrivenRolloutSettings": {
        "durationBetweenOffers": Field("duration"),
        # Optional: unset means "all devices at once" (see deployments._with_defaults).
        "devicesPerOffer": Field("int", minimum=1),
    },
    "dateDrivenRolloutSettings": {
        "durationBetweenOffers": Field("duration"),
        "endDateTime": Field("datetime", nullable=False, required=True),
    },
    "durationDrivenRolloutSettings": {
        "durationBetweenOffers": Field("duration"),
        "durationUntilDeploymentEnd": Field("duration", nullable=False, required=True),
    },
    "monitoringSettings": {"monitoringRules": list_of(obj("monitoringRule"))},
    "monitoringRule": {
        "signal": enum("rollback", "ineligible", required=True, nullable=False),
        "action": enum("alertError", "pauseDeployment", "offerFallback", required=True),
        "threshold": Field("int", minimum=1, maximum=100),
    },
    "userExperienceSettings": {
        "offerAsOptional": Field("bool"),
        "daysUntilForcedReboot": Field("int", minimum=0),
        "isHotpatchEnabled": Field("bool"),
    },
    "contentApplicabilitySettings": {
        "safeguard": obj("safeguardSettings"),
        "offerWhileRecommendedBy": list_of(Field("str")),
    },
    "safeguardSettings": {"disabledSafeguardProfiles": list_of(obj("safeguardProfile"))},
    "safeguardProfile": {"category": enum("likelyIssues", required=True, nullable=False)},
    "expediteSettings": {"isExpedited": Field("bool"), "isReadinessTest": Field("bool")},
}

# Abstract or base types and the derived types a body may name in @odata.type.
DERIVED: dict[str, tuple[str, ...]] = {
    "deployableContent": ("catalogContent",),
    "catalogEntry": ("featureUpdateCatalogEntry", "qualityUpdateCatalogEntry"),
    "gradualRolloutSettings": (
        "rateDrivenRolloutSettings",
        "dateDrivenRolloutSettings",
        "durationDrivenRolloutSettings",
    ),
}
# Base types that cannot be instantiated: the body must name a derived type (or let it be inferred).
ABSTRACT = frozenset({"deployableContent", "gradualRolloutSettings"})
# Abstract types whose concrete type may be inferred from the properties sent (like Graph does
# for gradualRollout); content always needs its @odata.type.
INFERABLE = frozenset({"gradualRolloutSettings"})
