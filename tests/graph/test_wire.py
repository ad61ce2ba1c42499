"""Graph responses read tolerantly: both state spellings, both enrollment shapes, extra fields."""

from __future__ import annotations

from app.graph.wire import (
    AzureADDevice,
    Deployment,
    FeatureUpdateCatalogEntry,
    QualityUpdateCatalogEntry,
    UpdatableAsset,
    parse_asset,
)

NS = "#microsoft.graph.windowsUpdates."


def test_deployment_reads_effective_value_and_the_example_spelling() -> None:
    data = {
        "@odata.type": NS + "deployment",
        "id": "dep-1",
        "state": {
            "effectiveValue": "paused",
            "requestedValue": "paused",
            "reasons": [{"value": "pausedByRequest"}, {"value": "faultedByContentOutdated"}],
        },
        "content": {
            "@odata.type": NS + "catalogContent",
            "catalogEntry": {"@odata.type": NS + "featureUpdateCatalogEntry", "id": "e1"},
        },
        "settings": {"schedule": {"startDateTime": "2026-01-01T00:00:00Z"}},
        "createdDateTime": "2026-01-01T00:00:00.0000000Z",
        "lastModifiedDateTime": "2026-01-02T00:00:00Z",
        "audience": {"id": "aud-1"},
        "someNewField": 1,
    }
    deployment = Deployment.model_validate(data)
    assert deployment.state is not None
    assert deployment.state.effective_value == "paused"
    assert [r.value for r in deployment.state.reasons] == [
        "pausedByRequest",
        "faultedByContentOutdated",
    ]
    assert deployment.audience is not None and deployment.audience.id == "aud-1"
    assert deployment.content is not None and deployment.content.catalog_entry is not None
    assert deployment.content.catalog_entry.id == "e1"
    assert deployment.created_date_time is not None and deployment.created_date_time.year == 2026
    example = Deployment.model_validate(
        {"id": "d", "state": {"value": "offering", "requestedValue": "none"}}
    )
    assert example.state is not None and example.state.effective_value == "offering"


def test_catalog_entries() -> None:
    feature = FeatureUpdateCatalogEntry.model_validate(
        {
            "@odata.type": NS + "featureUpdateCatalogEntry",
            "id": "f",
            "displayName": "Win 11 24H2",
            "version": "Windows 11, version 24H2",
            "buildNumber": "26100",
            "releaseDateTime": "2024-10-01T00:00:00Z",
            "deployableUntilDateTime": None,
        }
    )
    assert (feature.version, feature.build_number, feature.display_name) == (
        "Windows 11, version 24H2",
        "26100",
        "Win 11 24H2",
    )
    quality = QualityUpdateCatalogEntry.model_validate(
        {
            "id": "q" * 64,
            "shortName": "2026.01 B",
            "catalogName": "2026-01 Cumulative Update",
            "isExpeditable": True,
            "qualityUpdateClassification": "security",
            "qualityUpdateCadence": "monthly",
            "cveSeverityInformation": {
                "maxSeverity": "critical",
                "maxBaseScore": 9.8,
                "exploitedCves": [{"number": "CVE-1"}],
            },
        }
    )
    assert quality.is_expeditable is True
    assert quality.cve_severity_information is not None
    assert quality.cve_severity_information.max_base_score == 9.8


def test_device_enrollment_both_shapes_and_errors() -> None:
    new = AzureADDevice.model_validate(
        {
            "@odata.type": NS + "azureADDevice",
            "id": "d1",
            "enrollment": {
                "feature": {
                    "enrollmentState": "enrolling",
                    "lastModifiedDateTime": "2026-01-01T00:00:00Z",
                },
                "quality": {"enrollmentState": "notEnrolled"},
            },
            "errors": [
                {
                    "@odata.type": NS + "azureADDeviceRegistrationError",
                    "reason": "invalidAzureADDeviceId",
                }
            ],
        }
    )
    assert new.enrollment_state("feature") == "enrolling"
    assert new.enrollment_state("quality") == "notEnrolled"
    assert new.enrollment_state("driver") == "notEnrolled"
    assert new.error_reasons == ["invalidAzureADDeviceId"]
    old = AzureADDevice.model_validate(
        {
            "id": "d2",
            "enrollments": [
                {"@odata.type": NS + "updateManagementEnrollment", "updateCategory": "feature"}
            ],
            "errors": [],
        }
    )
    assert old.enrollment_state("feature") == "enrolled"
    assert old.enrollment_state("quality") == "notEnrolled"
    assert AzureADDevice.model_validate({"id": "d3"}).enrollment_state("feature") is None


def test_parse_asset_picks_the_type() -> None:
    assert isinstance(parse_asset({"@odata.type": NS + "azureADDevice", "id": "d"}), AzureADDevice)
    group = parse_asset({"@odata.type": NS + "updatableAssetGroup", "id": "g"})
    assert type(group) is UpdatableAsset
