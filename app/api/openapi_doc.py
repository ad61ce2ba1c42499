"""The OpenAPI document: FastAPI's, made true to what the service does.

Every error is documented as an RFC 9457 problem, on every operation that can answer it; PATCH
bodies may be merge patches; free-text parameters say they refuse NUL (as the middleware does);
every operation takes `X-Request-ID`; and links say which operations take the id a response
returns (for clients and for stateful tests).
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.error_handlers import MERGE_PATCH_MEDIA_TYPE
from app.api.middleware import REQUEST_ID_PATTERN
from app.api.problem_examples import problem_example
from app.api.problems import PROBLEM_DESCRIPTIONS, PROBLEM_MEDIA_TYPE
from app.api_types import REQUEST_ID_MAX_LENGTH, document_no_nul
from app.idempotency.models import KEY_MAX_LENGTH, KEY_PATTERN
from app.review.schemas import CHANGE_EXAMPLE, PLAN_EXAMPLE, DryRunOut

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"
_REQUEST_ID_REF = {"$ref": "#/components/parameters/RequestId"}
_REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request; echoed in `X-Request-ID`, the logs, the audit"
    " event and Graph's `client-request-id`. Other characters get a fresh id instead; a NUL or"
    f" more than {REQUEST_ID_MAX_LENGTH} characters is 422.",
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}

_IDEMPOTENCY_KEY_REF = {"$ref": "#/components/parameters/IdempotencyKey"}
_IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key with the same request within 24 hours gets"
    " the first response again, byte for byte (with `Idempotent-Replayed: true`), and nothing is"
    " done twice. The same key with a different method, path or body is 422"
    " `urn:problem:idempotency-key-reused`; while the first request is still running, 409"
    " `urn:problem:idempotency-key-in-flight` (retry after `Retry-After`). Keys are per caller;"
    f" 1 to {KEY_MAX_LENGTH} visible ASCII characters — a UUID is a good key.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX_LENGTH,
        "pattern": KEY_PATTERN,
    },
    "example": "0f8fad5b-d9cb-469f-a165-70867728950e",
}
_MUTATING = ("post", "patch", "delete")

# (operationId, status, path parameter): the response's `id` is that parameter of every
# operation whose path has it — a created rollout's id, an audience change's operation id.
LINKS: tuple[tuple[str, str, str], ...] = (
    ("createRollout", "201", "rolloutId"),
    ("changeAudience", "202", "operationId"),
    ("changeAudience", "200", "operationId"),
)


def _problem_only(status: str, response: dict[str, Any]) -> None:
    """Error responses carry application/problem+json only (FastAPI's own 422 included)."""
    content = response.get("content", {})
    json_schema = content.get("application/json", {}).get("schema", {})
    if json_schema.get("$ref") == _FASTAPI_VALIDATION:
        response["description"] = PROBLEM_DESCRIPTIONS[422]
    if status.startswith(("4", "5")):
        media: dict[str, Any] = {"schema": _PROBLEM_REF}
        example = problem_example(int(status))
        if example is not None:
            media["example"] = example
        response["content"] = {PROBLEM_MEDIA_TYPE: media}


def _possible_problems(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problems any operation of this shape can answer, whatever its route declared."""
    statuses = {422}  # a NUL in any header, query parameter or path parameter
    if path.startswith("/v1/"):
        statuses |= {401, 403, 429, 503}  # credentials, role, rate limit; the database
    if path.startswith("/v1/") and method in _MUTATING:
        statuses.add(409)  # Idempotency-Key in flight
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    names = {p.get("name") for p in operation.get("parameters", []) if "name" in p}
    if "cursor" in names:
        statuses.add(400)
    return statuses


def _document_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(_possible_problems(path, method, operation)):
        responses.setdefault(str(status), {"description": PROBLEM_DESCRIPTIONS[status]})
    for status, response in responses.items():
        _problem_only(status, response)


def _document_role(operation: dict[str, Any]) -> None:
    """Say in the description which role the operation needs (from its security roles)."""
    roles = {
        role
        for requirement in operation.get("security", [])
        for role in next(iter(requirement.values()), [])
    }
    if len(roles) == 1:
        operation["description"] = (
            operation.get("description", "").rstrip()
            + f"\n\n**Role:** `{roles.pop()}` or higher (401 without credentials, 403 below it)."
        ).lstrip()


APPROVABLE = {
    "createRollout",
    "patchRollout",
    "pauseRollout",
    "resumeRollout",
    "archiveRollout",
    "deleteRollout",
    "changeAudience",
    "releaseDevices",
}
"""The operations APPROVALS can hold (its names: create, patch, …, audience, release)."""


def _alternative(
    responses: dict[str, Any],
    schemas: dict[str, Any],
    status: str,
    alternative: tuple[str, str, dict[str, Any]],
    description: str,
) -> None:
    """Add `alternative` (schema name, example summary, example) as what `status` may also
    answer; the route's own model stays first, and each has a named example in Swagger UI."""
    name, summary, example = alternative
    ref = {"$ref": f"#/components/schemas/{name}"}
    response = responses.setdefault(status, {"description": description})
    media = response.setdefault("content", {}).setdefault("application/json", {})
    own = media.get("schema")
    media["schema"] = {"anyOf": [own, ref]} if own else ref
    examples = {}
    own_name = (own or {}).get("$ref", "").rsplit("/", 1)[-1]
    own_examples = schemas.get(own_name, {}).get("examples") or []
    if own_examples:
        examples[own_name] = {"summary": "Carried out", "value": own_examples[0]}
    examples[name] = {"summary": summary, "value": example}
    media["examples"] = examples
    if own:
        response["description"] = f"{response.get('description', '').rstrip('.')}. {description}"


def _document_review(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A change route under change review may also answer its dry run's plan (200) or, when
    APPROVALS names it, the change waiting for approval (202)."""
    names = {p.get("name") for p in operation.get("parameters", [])}
    if "dryRun" not in names:
        return
    responses = operation.setdefault("responses", {})
    _alternative(
        responses,
        schemas,
        "200",
        ("DryRunOut", "dryRun=true: the plan, nothing done", PLAN_EXAMPLE),
        "With `dryRun=true`: what it would do (the plan).",
    )
    if operation.get("operationId") not in APPROVABLE:
        return
    _alternative(
        responses,
        schemas,
        "202",
        ("ChangeOut", "Held for approval (APPROVALS)", CHANGE_EXAMPLE),
        "When APPROVALS names it: held for a second person's approval (the change, at `Location`).",
    )


def _review_schemas(schemas: dict[str, Any]) -> None:
    """The dry run's model (no route returns it as its own model)."""
    schema = DryRunOut.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["DryRunOut"] = schema


def _merge_patch_body(method: str, operation: dict[str, Any]) -> None:
    """A PATCH body may also be sent as application/merge-patch+json (RFC 7396)."""
    content = operation.get("requestBody", {}).get("content", {})
    if method == "patch" and "application/json" in content:
        content[MERGE_PATCH_MEDIA_TYPE] = deepcopy(content["application/json"])


def _document_parameters(path: str, method: str, operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if "schema" in parameter:
            document_no_nul(parameter["schema"])
    operation.setdefault("parameters", []).append(_REQUEST_ID_REF)
    if path.startswith("/v1/") and method in _MUTATING:
        operation["parameters"].append(_IDEMPOTENCY_KEY_REF)


def _path_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}


def _add_links(operations: dict[str, dict[str, Any]]) -> None:
    for source, status, parameter in LINKS:
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target, operation in sorted(operations.items()):
            if parameter in _path_parameters(operation):
                links[target[0].upper() + target[1:]] = {
                    "operationId": target,
                    "parameters": {parameter: "$response.body#/id"},
                }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Generate (once) and return the service's OpenAPI document."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    by_id: dict[str, dict[str, Any]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _document_problems(path, method, operation)
            _merge_patch_body(method, operation)
            _document_parameters(path, method, operation)
            _document_role(operation)
            _document_review(operation, document.get("components", {}).get("schemas", {}))
            by_id[operation.get("operationId", "")] = operation
    _add_links(by_id)
    components = document.setdefault("components", {})
    components.setdefault("parameters", {})["RequestId"] = _REQUEST_ID_PARAMETER
    components["parameters"]["IdempotencyKey"] = _IDEMPOTENCY_KEY_PARAMETER
    schemas = components.setdefault("schemas", {})
    _review_schemas(schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi` at /openapi.json."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
