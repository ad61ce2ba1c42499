"""The OpenAPI document tells the truth a client (or a fuzzer) needs: what a valid request is,
which problems each operation can answer, and which operations take the id a response gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from app.api_types import _DURATION, DURATION_PATTERN
from app.main import create_app
from tests.conftest import make_settings

PROBLEM_REF = "#/components/schemas/Problem"
GUID = "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(create_app(make_settings("postgresql+psycopg://unused/none")).openapi())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _validator(document: dict[str, Any], component: str) -> Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(root)


def _strings(schema: Any, document: dict[str, Any], seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every string schema reachable from `schema` (through $refs, once each)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _strings(item, document, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref not in seen:
        seen.add(ref)
        yield from _strings(
            document["components"]["schemas"][ref.rsplit("/", 1)[1]], document, seen
        )
    if schema.get("type") == "string":
        yield schema
    for key, value in schema.items():
        if key not in ("not", "examples", "example", "default", "const", "enum"):
            yield from _strings(value, document, seen)


def test_device_ids_are_uuids_with_a_guid_pattern(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    device_lists = [
        schemas["RolloutCreate"]["properties"]["devices"],
        schemas["RolloutCreate"]["properties"]["exclusions"],
        *(
            schemas["AudienceChangeRequest"]["properties"][n]
            for n in ("addDevices", "addExclusions")
        ),
    ]
    [device_param] = document["paths"]["/v1/devices/{deviceId}"]["get"]["parameters"][:1]
    for schema in [*(d["items"] for d in device_lists), device_param["schema"]]:
        assert schema["format"] == "uuid"
        assert re.fullmatch(schema["pattern"], GUID)
        assert not re.fullmatch(schema["pattern"], "not-a-guid")


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ({"waves": {"devicesPerWave": 10}}, True),
        ({"endBy": "2027-01-01T00:00:00Z", "waves": None}, True),
        ({"spreadOver": "P7D", "startAt": "2026-12-01T08:00:00Z"}, True),
        ({"waves": {"devicesPerWave": 10}, "endBy": "2027-01-01T00:00:00Z"}, False),
        ({"waves": {"devicesPerWave": 10}, "spreadOver": "P7D"}, False),
        ({"endBy": "2027-01-01T00:00:00Z", "spreadOver": "P7D"}, False),
        ({"waves": {"devicesPerWave": False}}, False),
        ({"waves": {"devicesPerWave": 10, "every": "P1W"}}, False),
        ({"spreadOver": "PT0S"}, False),
    ],
)
def test_the_schedule_schema_says_what_the_service_accepts(
    document: dict[str, Any], schedule: dict[str, Any], valid: bool
) -> None:
    from app.rollouts.schemas import Schedule

    assert _validator(document, "Schedule").is_valid(schedule) is valid
    try:
        Schedule.model_validate(schedule)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is valid


@pytest.mark.parametrize(
    ("component", "body", "valid"),
    [
        ("FeatureUpdateRef", {"kind": "feature", "version": "v"}, True),
        ("FeatureUpdateRef", {"kind": "feature", "version": "v", "catalogEntryId": "c"}, False),
        ("FeatureUpdateRef", {"kind": "feature"}, False),
        (
            "QualityUpdateRef",
            {"kind": "quality", "catalogEntryId": "c", "readinessTest": True},
            False,
        ),
        (
            "QualityUpdateRef",
            {"kind": "quality", "catalogEntryId": "c", "readinessTest": True, "expedite": True},
            True,
        ),
        ("MonitoringRule", {"signal": "rollback", "thresholdPercent": 5, "action": "pause"}, True),
        (
            "MonitoringRule",
            {"signal": "rollback", "thresholdPercent": 5, "action": "offerFallback"},
            False,
        ),
        (
            "MonitoringRule",
            {"signal": "rollback", "thresholdPercent": False, "action": "pause"},
            False,
        ),
        ("AudienceChangeRequest", {"removeDevices": [GUID]}, True),
        ("AudienceChangeRequest", {"addDevices": []}, False),
        ("ChangeRequest", {"ticket": "   "}, False),
        ("ChangeRequest", {"ticket": "CHG\u0000"}, False),
        ("RolloutPatch", {"update": {"kind": "feature", "version": "v"}}, False),
        ("RolloutPatch", {"name": None}, False),
        ("RolloutPatch", {"monitoring": None, "schedule": {"waves": {"every": "P2D"}}}, True),
    ],
)
def test_cross_field_rules_are_in_the_schema(
    document: dict[str, Any], component: str, body: dict[str, Any], valid: bool
) -> None:
    assert _validator(document, component).is_valid(body) is valid


def test_every_free_string_a_caller_sends_is_documented_without_nul(
    document: dict[str, Any],
) -> None:
    checked = 0
    for _, _, operation in _operations(document):
        schemas = [p["schema"] for p in operation.get("parameters", []) if "schema" in p]
        schemas += [
            c["schema"] for c in operation.get("requestBody", {}).get("content", {}).values()
        ]
        refs = [p["$ref"] for p in operation.get("parameters", []) if "$ref" in p]
        schemas += [
            document["components"]["parameters"][r.rsplit("/", 1)[1]]["schema"] for r in refs
        ]
        for string in _strings(schemas, document, set()):
            if string.keys() & {"enum", "const"} or string.get("format") in ("date-time", "uuid"):
                continue
            assert "pattern" in string, string
            assert not re.search(string["pattern"], "a\u0000b"), string
            checked += 1
    assert checked > 20


def test_every_operation_documents_the_problems_it_can_answer(
    document: dict[str, Any],
) -> None:
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        expected = {"422"}
        if path.startswith("/v1/"):
            expected |= {"401", "403", "429", "503"}
        if path.startswith("/v1/") and method in ("post", "patch", "delete"):
            expected.add("409")  # Idempotency-Key in flight
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
            expected.add("400")
        if "{rolloutId}" in path or "{operationId}" in path or "{eventId}" in path:
            expected.add("404")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                (media_type,) = response["content"]
                media = response["content"][media_type]
                assert media_type == "application/problem+json", (method, path, status)
                assert media["schema"] == {"$ref": PROBLEM_REF}, (method, path, status)
                # An example, where there is one, is a problem of that very status.
                example = media.get("example", {"status": int(status)})
                assert example["status"] == int(status), (method, path, status)


def test_patch_takes_a_merge_patch_or_json(document: dict[str, Any]) -> None:
    content = document["paths"]["/v1/rollouts/{rolloutId}"]["patch"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/merge-patch+json"}
    assert content["application/merge-patch+json"]["schema"]["$ref"].endswith("/RolloutPatch")


def test_links_lead_from_a_created_rollout_to_every_operation_on_it(
    document: dict[str, Any],
) -> None:
    needs_rollout = {
        operation["operationId"]
        for path, _, operation in _operations(document)
        if "{rolloutId}" in path
    }
    created = document["paths"]["/v1/rollouts"]["post"]["responses"]["201"]
    links = created["links"]
    assert {link["operationId"] for link in links.values()} == needs_rollout
    assert all(link["parameters"] == {"rolloutId": "$response.body#/id"} for link in links.values())
    audience = document["paths"]["/v1/rollouts/{rolloutId}/audience"]["post"]["responses"]
    for status in ("200", "202"):
        assert audience[status]["links"] == {
            "GetOperation": {
                "operationId": "getOperation",
                "parameters": {"operationId": "$response.body#/id"},
            }
        }


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet="P0123TDHMSW", max_size=12))
def test_the_duration_pattern_is_the_duration_rule(text: str) -> None:
    documented = re.fullmatch(DURATION_PATTERN, text) is not None
    enforced = _DURATION.fullmatch(text) is not None and re.search("[1-9]", text) is not None
    assert documented is enforced


def test_a_whole_number_may_be_written_as_one_with_a_zero_fraction() -> None:
    from pydantic import ValidationError

    from app.rollouts.schemas import Waves

    assert Waves.model_validate({"devicesPerWave": 100.0}).devicesPerWave == 100
    for refused in (100.5, True, "100"):
        with pytest.raises(ValidationError):
            Waves.model_validate({"devicesPerWave": refused})
