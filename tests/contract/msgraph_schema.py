"""Validate Graph windowsUpdates bodies against Microsoft's OpenAPI (WindowsUpdates.yml).

Use it for both directions:

- responses (what Graph, or the simulator, returns)::

      validate_response("GET", "/deployments/{deployment-id}", 200, body)

- request bodies (what our Graph client sends)::

      validate_request_body("POST", "/beta/admin/windows/updates/deployments", body)

- any named schema::

      validate_schema("microsoft.graph.windowsUpdates.deployment", body)   # or "deployment"

Paths may be OpenAPI templates, concrete paths or full URLs, with or without `/beta` and with the
short action spellings (`.../audience/updateAudience`, `/updatableAssets/enrollAssets`).

Every function raises `ContractError` (an AssertionError listing every problem) and returns None
when the body conforms; the `*_errors` twins return the problems as a list of strings instead.

The YAML is vendored in `spec/` (provenance, SHA-256 and licence in `spec/SOURCE.md`).

How Microsoft's OpenAPI 3.0 is read: `nullable` becomes "or null", `$ref`s to
`#/components/schemas/X` resolve through a `referencing` registry, `x-*` keys and descriptions
are dropped, int32/int64 numbers must be integers, date-time and duration are checked through the
patterns the YAML carries. Microsoft's schemas allow any extra property (`additionalProperties`);
that is ignored. `strict=True` (the default) instead rejects every property that the object's
type does not declare, walking `allOf` inheritance chains; instance annotations (`@odata.type`,
`@odata.nextLink`, `x@odata.y`, …) are always allowed. Schemas that declare no properties at all
(e.g. ODataErrors.InnerError) stay open.

Polymorphism: an object's `@odata.type` selects its type, which must be the declared type or
derived from it. The YAML omits the derived types (featureUpdateCatalogEntry,
qualityUpdateCatalogEntry, catalogContent, azureADDevice, updatableAssetGroup, the three
*RolloutSettings, azureADDeviceRegistrationError, …); `EXTRA_SCHEMAS` defines them from
`shared/design/graph.md`, so their fields are type-checked and, in strict mode, unknown ones
(e.g. `devicePerOffer`) rejected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).resolve().parent / "spec"
SPEC_PATH = SPEC_DIR / "WindowsUpdates.yml"  # vendored; provenance and licence in spec/SOURCE.md
ROOT = "/admin/windows/updates"
NS = "microsoft.graph.windowsUpdates"
REF_PREFIX = "#/components/schemas/"
URI_PREFIX = "urn:msgraph:schema:"
INT_FORMATS = {"int8", "int16", "int32", "int64", "uint8"}
DROPPED_KEYS = {
    "description",
    "title",
    "example",
    "nullable",
    "readOnly",
    "writeOnly",
    "deprecated",
    "externalDocs",
    "discriminator",
    "additionalProperties",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def _derived(base: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [_ref(base), {"type": "object", "properties": properties}]}


_DATETIME = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4,}-[01][0-9]-[0-3][0-9]T",
}
_DURATION = {
    "type": "string",
    "format": "duration",
    "pattern": r"^-?P([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+([.][0-9]+)?S)?)?$",
}

# Types the YAML omits, written in the YAML's own OpenAPI dialect (fields per graph.md).
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {
    f"{NS}.featureUpdateCatalogEntry": _derived(
        f"{NS}.catalogEntry",
        {
            "version": {"type": "string", "nullable": True},
            "buildNumber": {"type": "string", "nullable": True},
        },
    ),
    f"{NS}.qualityUpdateCatalogEntry": _derived(
        f"{NS}.catalogEntry",
        {
            "shortName": {"type": "string", "nullable": True},
            "catalogName": {"type": "string", "nullable": True},
            "isExpeditable": {"type": "boolean", "nullable": True},
            "qualityUpdateClassification": {
                "enum": ["all", "security", "nonSecurity", "unknownFutureValue"],
                "type": "string",
            },
            "qualityUpdateCadence": {
                "enum": ["monthly", "outOfBand", "unknownFutureValue"],
                "type": "string",
            },
            "cveSeverityInformation": {
                "allOf": [_ref(f"{NS}.qualityUpdateCveSeverityInformation")],
                "nullable": True,
            },
            "productRevisions": {
                "type": "array",
                "items": _ref(f"{NS}.productRevision"),
            },
        },
    ),
    f"{NS}.qualityUpdateCveSeverityInformation": {
        "type": "object",
        "properties": {
            "maxSeverity": {
                "enum": ["none", "low", "moderate", "important", "critical", "unknownFutureValue"],
                "type": "string",
                "nullable": True,
            },
            "maxBaseScore": {"type": "number", "nullable": True},
            "exploitedCves": {"type": "array", "items": _ref(f"{NS}.cveInformation")},
        },
    },
    f"{NS}.cveInformation": {
        "type": "object",
        "properties": {
            "number": {"type": "string", "nullable": True},
            "url": {"type": "string", "nullable": True},
        },
    },
    f"{NS}.catalogContent": _derived(
        f"{NS}.deployableContent", {"catalogEntry": _ref(f"{NS}.catalogEntry")}
    ),
    f"{NS}.azureADDevice": _derived(
        f"{NS}.updatableAsset",
        {
            "enrollment": _ref(f"{NS}.updatableAssetEnrollment"),
            "enrollments": {
                "type": "array",
                "items": _ref(f"{NS}.updatableAssetEnrollmentLegacy"),
            },
            "errors": {"type": "array", "items": _ref(f"{NS}.updatableAssetError")},
        },
    ),
    f"{NS}.updatableAssetGroup": _derived(
        f"{NS}.updatableAsset",
        {"members": {"type": "array", "items": _ref(f"{NS}.updatableAsset")}},
    ),
    f"{NS}.updatableAssetEnrollment": {
        "type": "object",
        "properties": {
            c: {"allOf": [_ref(f"{NS}.updateManagementEnrollment")], "nullable": True}
            for c in ("feature", "quality", "driver")
        },
    },
    f"{NS}.updateManagementEnrollment": {
        "type": "object",
        "properties": {
            "enrollmentState": {
                "enum": [
                    "notEnrolled",
                    "enrolled",
                    "enrolledWithPolicy",
                    "enrolling",
                    "unenrolling",
                    "unknownFutureValue",
                ],
                "type": "string",
            },
            "lastModifiedDateTime": {**_DATETIME, "nullable": True},
        },
    },
    f"{NS}.updatableAssetEnrollmentLegacy": {
        "type": "object",
        "properties": {"updateCategory": _ref(f"{NS}.updateCategory")},
    },
    f"{NS}.updatableAssetError": {"type": "object", "properties": {}},
    f"{NS}.azureADDeviceRegistrationError": _derived(
        f"{NS}.updatableAssetError",
        {
            "reason": {
                "enum": [
                    "invalidGlobalDeviceId",
                    "invalidAzureADDeviceId",
                    "missingTrustType",
                    "invalidAzureADJoin",
                    "unknownFutureValue",
                ],
                "type": "string",
            }
        },
    ),
    f"{NS}.rateDrivenRolloutSettings": _derived(
        f"{NS}.gradualRolloutSettings",
        {"devicesPerOffer": {"type": "number", "format": "int32", "nullable": True}},
    ),
    f"{NS}.dateDrivenRolloutSettings": _derived(
        f"{NS}.gradualRolloutSettings", {"endDateTime": {**_DATETIME, "nullable": True}}
    ),
    f"{NS}.durationDrivenRolloutSettings": _derived(
        f"{NS}.gradualRolloutSettings",
        {"durationUntilDeploymentEnd": {**_DURATION, "nullable": True}},
    ),
}


class ContractError(AssertionError):
    """A body does not conform; `errors` lists every problem found."""

    def __init__(self, what: str, errors: list[str]) -> None:
        super().__init__(f"{what} does not conform:\n- " + "\n- ".join(errors))
        self.errors = errors


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """The parsed YAML (cached); a missing file is an error, never a reason to skip."""
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(
            f"Microsoft's OpenAPI for windowsUpdates must be vendored at {SPEC_PATH} "
            "(see spec/SOURCE.md)"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)
    return spec


def to_json_schema(node: Any) -> Any:
    """Convert one OpenAPI 3.0 schema node to JSON Schema (2020-12), permissively."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in DROPPED_KEYS:
            continue
        if key == "$ref":
            out["$ref"] = URI_PREFIX + str(value).removeprefix(REF_PREFIX)
        elif key == "properties":
            out["properties"] = {name: to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = to_json_schema(value)
    if node.get("format") in INT_FORMATS and out.get("type") == "number":
        out["type"] = "integer"
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.lru_cache(maxsize=1)
def _schemas() -> dict[str, Any]:
    raw = {**load_spec()["components"]["schemas"], **EXTRA_SCHEMAS}
    return {name: to_json_schema(schema) for name, schema in raw.items()}


@functools.lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = [
        (URI_PREFIX + name, Resource.from_contents(schema, default_specification=DRAFT202012))
        for name, schema in _schemas().items()
    ]
    return Registry().with_resources(resources)


def schema_names() -> list[str]:
    """Every schema name known: the YAML's components plus EXTRA_SCHEMAS."""
    return sorted(_schemas())


def _full_name(name: str) -> str:
    short = name.lstrip("#")
    if short in _schemas():
        return short
    if f"{NS}.{short}" in _schemas():
        return f"{NS}.{short}"
    raise KeyError(f"unknown schema {name!r}")


def base_of(name: str) -> str | None:
    """The type a schema inherits from (first `allOf` $ref), or None."""
    for part in _schemas()[name].get("allOf", []):
        ref = part.get("$ref", "")
        if ref.startswith(URI_PREFIX):
            return str(ref[len(URI_PREFIX) :])
    return None


def is_subtype(name: str, ancestor: str) -> bool:
    """True when `name` is `ancestor` or inherits from it."""
    current: str | None = name
    while current is not None:
        if current == ancestor:
            return True
        current = base_of(current)
    return False


def _is_annotation(key: str) -> bool:
    return "@" in key


def _properties(node: Any, seen: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    """Declared properties of a schema node through $ref/allOf/anyOf; None if it declares none."""
    if not isinstance(node, dict):
        return None
    found: dict[str, Any] | None = None

    def merge(more: dict[str, Any] | None) -> None:
        nonlocal found
        if more is not None:
            found = {**(found or {}), **more}

    if "$ref" in node:
        name = node["$ref"].removeprefix(URI_PREFIX)
        if name not in seen:
            merge(_properties(_schemas()[name], seen | {name}))
    for key in ("allOf", "anyOf"):
        for part in node.get(key, []):
            merge(_properties(part, seen))
    if "properties" in node:
        merge(node["properties"])
    return found


def _named(node: Any) -> str | None:
    """The schema name a node refers to (directly or through a nullable/allOf wrapper)."""
    if not isinstance(node, dict):
        return None
    if "$ref" in node:
        return str(node["$ref"]).removeprefix(URI_PREFIX)
    for key in ("anyOf", "allOf"):
        parts = [p for p in node.get(key, []) if p != {"type": "null"}]
        if len(parts) == 1:
            return _named(parts[0])
    return None


class _Checker:
    """Collects problems while walking an instance against a schema."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.errors: list[str] = []

    def add(self, path: str, message: str) -> None:
        entry = f"{path}: {message}"
        if entry not in self.errors:
            self.errors.append(entry)

    def jsonschema(self, instance: Any, schema: Any, path: str) -> None:
        validator = Draft202012Validator(schema, registry=_registry())
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
            where = path + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
            )
            self.add(where, error.message[:300])

    def named(self, instance: Any, name: str, path: str, top: bool) -> None:
        effective = name
        if isinstance(instance, dict) and "@odata.type" in instance:
            declared = str(instance["@odata.type"]).lstrip("#")
            if declared not in _schemas():
                self.add(path, f"unknown @odata.type {instance['@odata.type']!r}")
            elif not is_subtype(declared, name):
                self.add(path, f"@odata.type {declared} is not a {name}")
            else:
                effective = declared
        if top or effective != name:
            self.jsonschema(instance, {"$ref": URI_PREFIX + effective}, path)
        self.walk(instance, {"$ref": URI_PREFIX + effective}, path, dispatch=False)

    def walk(self, instance: Any, node: Any, path: str, dispatch: bool = True) -> None:
        name = _named(node)
        if dispatch and name is not None and isinstance(instance, dict):
            self.named(instance, name, path, top=False)
            return
        if isinstance(instance, dict):
            declared = _properties(node)
            if declared is None:
                return
            for key, value in instance.items():
                if _is_annotation(key):
                    continue
                if key not in declared:
                    if self.strict:
                        owner = name or "object"
                        self.add(f"{path}.{key}", f"property not declared by {owner}")
                    continue
                self.walk(value, declared[key], f"{path}.{key}")
        elif isinstance(instance, list):
            items = _items(node)
            if items is not None:
                for index, value in enumerate(instance):
                    self.walk(value, items, f"{path}[{index}]")


def _items(node: Any) -> Any:
    if not isinstance(node, dict):
        return None
    if "items" in node:
        return node["items"]
    for key in ("anyOf", "allOf"):
        for part in node.get(key, []):
            found = _items(part)
            if found is not None:
                return found
    return None


def _check_node(instance: Any, node: Any, strict: bool) -> list[str]:
    checker = _Checker(strict)
    name = _named(node)
    if name is not None:
        checker.named(instance, name, "$", top=True)
    else:
        checker.jsonschema(instance, node, "$")
        checker.walk(instance, node, "$")
    return checker.errors


def schema_errors(schema_name: str, instance: Any, *, strict: bool = True) -> list[str]:
    """Problems of `instance` against a named schema (full or windowsUpdates-short name)."""
    return _check_node(instance, {"$ref": URI_PREFIX + _full_name(schema_name)}, strict)


def validate_schema(schema_name: str, instance: Any, *, strict: bool = True) -> None:
    """Raise ContractError unless `instance` conforms to the named schema."""
    errors = schema_errors(schema_name, instance, strict=strict)
    if errors:
        raise ContractError(schema_name, errors)


# -- operations ---------------------------------------------------------------------------------


def _normalize_path(path: str) -> str:
    parts = urlsplit(path)
    clean = parts.path if parts.scheme else path.split("?", 1)[0]
    for prefix in ("/beta", "/v1.0"):
        if clean.startswith(prefix + "/"):
            clean = clean[len(prefix) :]
    if not clean.startswith(ROOT):
        clean = ROOT + ("" if clean.startswith("/") else "/") + clean
    return clean.rstrip("/") or "/"


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            pattern += "[^/]+"
        else:
            escaped = re.escape(piece)
            pattern += escaped.replace(re.escape(f"{NS}."), rf"(?:{re.escape(NS)}\.)?")
    return re.compile(f"^{pattern}$")


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[str, re.Pattern[str]]]:
    return [(t, _template_regex(t)) for t in load_spec()["paths"]]


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """(OpenAPI path template, operation object) for a method and a path/template/URL."""
    wanted = method.lower()
    clean = _normalize_path(path)
    paths = load_spec()["paths"]
    if clean in paths and wanted in paths[clean]:
        return clean, paths[clean][wanted]
    candidates = [t for t, rx in _templates() if rx.match(clean) and wanted in paths[t]]
    if not candidates:
        raise KeyError(f"no {method.upper()} operation for {path!r} in WindowsUpdates.yml")
    best = min(candidates, key=lambda t: (t.count("{"), len(t)))
    return best, paths[best][wanted]


def _json_schema_of(content_holder: dict[str, Any]) -> Any | None:
    content = content_holder.get("content") or {}
    media = content.get("application/json")
    if media is None:
        return None
    return to_json_schema(media.get("schema", {}))


def _response_for(operation: dict[str, Any], status: int) -> dict[str, Any]:
    responses = operation["responses"]
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            response: dict[str, Any] = responses[key]
            break
    else:
        raise KeyError(f"status {status} is not documented for this operation")
    ref = response.get("$ref")
    if ref:
        response = load_spec()["components"]["responses"][ref.rsplit("/", 1)[-1]]
    return response


def _empty(body: Any) -> bool:
    return body is None or body == b"" or body == ""


def request_body_errors(
    method: str, path_template: str, body: Any, *, strict: bool = True
) -> list[str]:
    """Problems of a request body for an operation (see validate_request_body)."""
    template, operation = find_operation(method, path_template)
    request = operation.get("requestBody")
    schema = _json_schema_of(request) if request else None
    if schema is None:
        return [] if _empty(body) else [f"{method.upper()} {template} takes no JSON body"]
    if _empty(body):
        return [] if not request.get("required") else [f"{method.upper()} {template} needs a body"]
    return _check_node(body, schema, strict)


def validate_request_body(
    method: str, path_template: str, body: Any, *, strict: bool = True
) -> None:
    """Raise ContractError unless `body` is a valid request body for the operation."""
    errors = request_body_errors(method, path_template, body, strict=strict)
    if errors:
        raise ContractError(f"request body of {method.upper()} {path_template}", errors)


def response_errors(
    method: str, path_template: str, status: int, body: Any, *, strict: bool = True
) -> list[str]:
    """Problems of a response body for an operation and status (see validate_response)."""
    template, operation = find_operation(method, path_template)
    schema = _json_schema_of(_response_for(operation, status))
    if schema is None:
        if _empty(body):
            return []
        return [f"{method.upper()} {template} answers {status} with no body"]
    if _empty(body):
        return [f"{method.upper()} {template} answers {status} with a JSON body; got none"]
    return _check_node(body, schema, strict)


def validate_response(
    method: str, path_template: str, status: int, body: Any, *, strict: bool = True
) -> None:
    """Raise ContractError unless `body` is what the operation documents for `status`.

    Statuses not listed fall back to `2XX` / `default` (the ODataError envelope) like the YAML.
    `body=None` means "no body" (e.g. 202 from an action or DELETE).
    """
    errors = response_errors(method, path_template, status, body, strict=strict)
    if errors:
        raise ContractError(f"{status} response of {method.upper()} {path_template}", errors)


def error_envelope_errors(body: Any) -> list[str]:
    """Problems of a Graph error envelope, including the innerError fields Graph always sends."""
    errors = schema_errors("microsoft.graph.ODataErrors.ODataError", body)
    inner = body.get("error", {}).get("innerError") if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return [*errors, "$.error.innerError: missing"]
    for key in ("date", "request-id", "client-request-id"):
        if not isinstance(inner.get(key), str) or not inner[key]:
            errors.append(f"$.error.innerError.{key}: missing or empty")
    return errors


def validate_error_envelope(body: Any) -> None:
    """Raise ContractError unless `body` is `{"error": {code, message, innerError{…}}}`."""
    errors = error_envelope_errors(body)
    if errors:
        raise ContractError("error envelope", errors)


def iter_operations() -> Iterator[tuple[str, str]]:
    """(METHOD, template) of every operation in the YAML."""
    for template, item in load_spec()["paths"].items():
        for method in item:
            if method in {"get", "post", "patch", "put", "delete"}:
                yield method.upper(), template
