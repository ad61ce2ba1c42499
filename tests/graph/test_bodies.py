"""The request bodies exactly as graph.md "Create deployment body" describes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.graph import bodies
from app.graph.specs import (
    AudienceChange,
    ContentSpec,
    DateDrivenRollout,
    DeploymentSettingsSpec,
    DurationDrivenRollout,
    ExpediteSpec,
    MonitoringRule,
    RateDrivenRollout,
)

NS = "#microsoft.graph.windowsUpdates."
FEATURE = ContentSpec("f1b5c8a2-0000-4000-8000-000000000001", "feature")
QUALITY = ContentSpec("a" * 64, "quality")


def test_feature_deployment_with_rate_rollout_monitoring_and_no_safeguards() -> None:
    start = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    spec = DeploymentSettingsSpec(
        start_date_time=start,
        gradual_rollout=RateDrivenRollout(devices_per_offer=500, duration_between_offers="P2D"),
        monitoring_rules=(MonitoringRule("rollback", 5, "pauseDeployment"),),
        offer_as_optional=False,
        days_until_forced_reboot=3,
        safeguards_enabled=False,
    )
    body = bodies.create_deployment_body(FEATURE, spec, "aud-1")
    assert body == {
        "@odata.type": NS + "deployment",
        "content": {
            "@odata.type": NS + "catalogContent",
            "catalogEntry": {
                "@odata.type": NS + "featureUpdateCatalogEntry",
                "id": FEATURE.catalog_entry_id,
            },
        },
        "settings": {
            "@odata.type": NS + "deploymentSettings",
            "schedule": {
                "@odata.type": NS + "scheduleSettings",
                "startDateTime": "2026-12-01T07:30:00Z",
                "gradualRollout": {
                    "@odata.type": NS + "rateDrivenRolloutSettings",
                    "durationBetweenOffers": "P2D",
                    "devicesPerOffer": 500,
                },
            },
            "monitoring": {
                "@odata.type": NS + "monitoringSettings",
                "monitoringRules": [
                    {
                        "@odata.type": NS + "monitoringRule",
                        "signal": "rollback",
                        "threshold": 5,
                        "action": "pauseDeployment",
                    }
                ],
            },
            "userExperience": {
                "@odata.type": NS + "userExperienceSettings",
                "offerAsOptional": False,
                "daysUntilForcedReboot": 3,
            },
            "contentApplicability": {
                "@odata.type": NS + "contentApplicabilitySettings",
                "safeguard": {
                    "@odata.type": NS + "safeguardSettings",
                    "disabledSafeguardProfiles": [
                        {"@odata.type": NS + "safeguardProfile", "category": "likelyIssues"}
                    ],
                },
            },
        },
        "audience": {"@odata.type": NS + "deploymentAudience", "id": "aud-1"},
    }
    assert "devicePerOffer" not in str(body)


def test_date_and_duration_rollouts() -> None:
    end = datetime(2027, 1, 31, 23, 59, 59, 250000, tzinfo=UTC)
    date_body = bodies.gradual_rollout_body(DateDrivenRollout(end))
    assert date_body == {
        "@odata.type": NS + "dateDrivenRolloutSettings",
        "endDateTime": "2027-01-31T23:59:59.250000Z",
    }
    duration_body = bodies.gradual_rollout_body(DurationDrivenRollout("P14D", "PT12H"))
    assert duration_body == {
        "@odata.type": NS + "durationDrivenRolloutSettings",
        "durationBetweenOffers": "PT12H",
        "durationUntilDeploymentEnd": "P14D",
    }


def test_rate_rollout_defaults_to_one_day_between_offers() -> None:
    assert bodies.gradual_rollout_body(RateDrivenRollout(100))["durationBetweenOffers"] == "P1D"


def test_defaults_leave_everything_out_and_safeguards_on() -> None:
    body = bodies.settings_body(DeploymentSettingsSpec())
    assert body == {"@odata.type": NS + "deploymentSettings"}
    no_settings = bodies.create_deployment_body(QUALITY, None, "aud")
    assert "settings" not in no_settings
    assert no_settings["content"]["catalogEntry"]["@odata.type"] == NS + "qualityUpdateCatalogEntry"


def test_expedite_is_quality_only() -> None:
    spec = DeploymentSettingsSpec(expedite=ExpediteSpec(is_expedited=True, is_readiness_test=False))
    body = bodies.create_deployment_body(QUALITY, spec, "aud")
    assert body["settings"]["expedite"] == {
        "@odata.type": NS + "expediteSettings",
        "isExpedited": True,
        "isReadinessTest": False,
    }
    with pytest.raises(ValueError, match="quality"):
        bodies.create_deployment_body(FEATURE, spec, "aud")


def test_state_and_settings_patches() -> None:
    assert bodies.state_body("paused") == {
        "@odata.type": NS + "deployment",
        "state": {"@odata.type": NS + "deploymentState", "requestedValue": "paused"},
    }
    with pytest.raises(ValueError):
        bodies.state_body("offering")  # type: ignore[arg-type]
    patch = bodies.update_settings_body(DeploymentSettingsSpec(offer_as_optional=True))
    assert patch["settings"]["userExperience"]["offerAsOptional"] is True
    assert set(patch) == {"@odata.type", "settings"}


def test_audience_and_asset_bodies() -> None:
    change = AudienceChange(add_members=("d1", "d2"), remove_exclusions=("d3",))
    assert bodies.update_audience_body(change) == {
        "addMembers": [
            {"@odata.type": NS + "azureADDevice", "id": "d1"},
            {"@odata.type": NS + "azureADDevice", "id": "d2"},
        ],
        "removeExclusions": [{"@odata.type": NS + "azureADDevice", "id": "d3"}],
    }
    assert bodies.assets_body("quality", ["d9"]) == {
        "updateCategory": "quality",
        "assets": [{"@odata.type": NS + "azureADDevice", "id": "d9"}],
    }


def test_datetimes_are_utc_with_z_and_naive_ones_are_refused() -> None:
    assert (
        bodies.graph_datetime(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))))
        == "2026-01-01T05:00:00Z"
    )
    with pytest.raises(ValueError):
        bodies.graph_datetime(datetime(2026, 1, 1))
