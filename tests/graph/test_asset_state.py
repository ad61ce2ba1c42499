"""AssetState.of_body reads a listed asset's body exactly as the models do (parse_asset, then
AssetState.of), for every shape Graph may send and the malformed ones it should not."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pydantic import ValidationError

from app.graph.wire import NS, AssetState, parse_asset

ENROLLMENTS: list[Any] = [
    "absent",
    None,
    {},
    {"feature": {"enrollmentState": "enrolled", "lastModifiedDateTime": "2026-11-28T12:00:00Z"}},
    {"feature": {"enrollmentState": "enrolling"}, "quality": None, "driver": {}},
    {"quality": {"enrollmentState": ""}, "driver": {"enrollmentState": None}},
    {"feature": {"enrollment_state": "enrolled"}},  # snake_case: the models read it too
    {"feature": {"enrollmentState": 3}},
    {"feature": "enrolled"},
    ["feature"],
]
LEGACY: list[Any] = [
    "absent",
    None,
    [],
    [{"updateCategory": "feature"}],
    [{"updateCategory": "quality"}, {"updateCategory": "driver", "extra": 1}],
    [{"update_category": "feature"}],
    [{"updateCategory": None}],
    [{}],
    "feature",
]
ERRORS: list[Any] = [
    "absent",
    [],
    [{"@odata.type": NS + "azureADDeviceRegistrationError", "reason": "invalidAzureADDeviceId"}],
    [{"reason": None}, {"reason": "invalidAzureADJoin"}, {}],
    [{"reason": 7}],
    ["invalidAzureADDeviceId"],
    None,
]
TYPES: list[Any] = ["absent", NS + "azureADDevice", "microsoft.graph.windowsUpdates.azureADDevice"]


def body(kind: Any, enrollment: Any, legacy: Any, errors: Any, device_id: Any = "dev-1") -> Any:
    fields = {
        "@odata.type": kind,
        "id": device_id,
        "enrollment": enrollment,
        "enrollments": legacy,
        "errors": errors,
    }
    return {key: value for key, value in fields.items() if value != "absent"}


def by_models(data: Any) -> tuple[str, AssetState] | type[Exception]:
    try:
        asset = parse_asset(data)
    except (ValidationError, AttributeError) as error:
        return type(error)
    return asset.id, AssetState.of(asset)


def by_of_body(data: Any) -> tuple[str, AssetState] | type[Exception]:
    try:
        return AssetState.of_body(data)
    except (ValidationError, AttributeError) as error:
        return type(error)


def test_every_device_shape_reads_as_the_models_read_it() -> None:
    cases = itertools.product(TYPES, ENROLLMENTS, LEGACY, ERRORS)
    checked = 0
    for kind, enrollment, legacy, errors in cases:
        data = body(kind, enrollment, legacy, errors)
        assert by_of_body(data) == by_models(data), data
        checked += 1
    assert checked == len(TYPES) * len(ENROLLMENTS) * len(LEGACY) * len(ERRORS)


@pytest.mark.parametrize(
    "data",
    [
        {"@odata.type": NS + "updatableAssetGroup", "id": "group-1"},
        {"@odata.type": "#microsoft.graph.somethingNew", "id": "x", "enrollment": {}},
        body("absent", "absent", "absent", "absent", device_id=None),
        body("absent", "absent", "absent", "absent", device_id=12),
        body("absent", "absent", "absent", "absent", device_id="absent"),
        ["not", "an", "object"],
    ],
)
def test_other_assets_and_malformed_bodies_read_as_the_models_read_them(data: Any) -> None:
    assert by_of_body(data) == by_models(data)


def test_graphs_usual_device_body_reads_its_states_and_errors() -> None:
    data = body(
        NS + "azureADDevice",
        {"feature": {"enrollmentState": "enrolled"}, "quality": {"enrollmentState": "enrolling"}},
        "absent",
        [{"reason": "invalidAzureADJoin"}],
        device_id="dev-9",
    )
    device_id, state = AssetState.of_body(data)
    assert device_id == "dev-9"
    assert state.enrollment == ("enrolled", "enrolling", "notEnrolled")
    assert state.errors == ("invalidAzureADJoin",)


def test_a_field_the_state_does_not_use_is_not_validated() -> None:
    """The documented difference: the models refuse a malformed timestamp; the state needs
    none, so reading a member back does not fail on one."""
    data = body(
        "absent",
        {"feature": {"enrollmentState": "enrolled", "lastModifiedDateTime": "soon"}},
        "absent",
        "absent",
    )
    assert by_models(data) is ValidationError
    assert AssetState.of_body(data) == (
        "dev-1",
        AssetState(("enrolled", "notEnrolled", "notEnrolled"), ()),
    )
