"""OData system query options: their names as Graph reads them, and a 400 for any a route lacks.

Graph's beta endpoint takes system query options with or without the `$` prefix ([doc] "Use query
parameters", concepts/query-parameters.md: "On the beta endpoint, the $ prefix is optional"), and
OData 4.01 matches their names case-insensitively (`$orderBy` is `$orderby`). Custom query options
(names that are not system options) are ignored, as OData says. A system option that a route does
not implement is answered 400 naming it: the simulator never silently ignores one, since a client
relying on it would then see results Graph would not give.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import QueryParams

from app.simulator.errors import GraphError, bad_request

SYSTEM_OPTIONS = frozenset(
    {
        "apply",
        "compute",
        "count",
        "deltatoken",
        "expand",
        "filter",
        "format",
        "index",
        "levels",
        "orderby",
        "schemaversion",
        "search",
        "select",
        "skip",
        "skiptoken",
        "top",
    }
)
PAGING = frozenset({"$top", "$skiptoken"})


def canonical(name: str) -> str | None:
    """`$filter` for `$filter`, `filter`, `$FILTER`…; None for a custom query option."""
    bare = name.lower().removeprefix("$")
    return f"${bare}" if bare in SYSTEM_OPTIONS else None


def system_options(query: QueryParams) -> dict[str, str]:
    """The request's system query options by canonical name; 400 when one is given twice."""
    options: dict[str, str] = {}
    for name, value in query.multi_items():
        key = canonical(name)
        if key is None:
            continue
        if key in options:
            raise bad_request(f"Query option '{key}' was specified more than once.", key)
        options[key] = value
    return options


def check_supported(options: Collection[str], supported: Collection[str]) -> None:
    """400 naming the first option the route does not implement."""
    for key in sorted(options):
        if key not in supported:
            answered = ", ".join(sorted(supported)) or "none"
            raise GraphError(
                400,
                "BadRequest",
                f"Query option '{key}' is not supported on this resource by the Graph simulator "
                f"(it answers these query options here: {answered}).",
                target=key,
            )


def expand_items(options: dict[str, str]) -> list[str]:
    """The navigation paths named by `$expand` (empty when absent)."""
    raw = options.get("$expand")
    if raw is None:
        return []
    items = [part.strip() for part in raw.split(",")]
    if not all(items):
        raise bad_request(f"Invalid $expand: '{raw}'.", "$expand")
    return items


def check_expand(options: dict[str, str], expandable: Collection[str], type_name: str) -> None:
    """400, as OData words it, for an `$expand` path the resource does not have."""
    for item in expand_items(options):
        if item not in expandable:
            raise bad_request(
                f"Could not find a property named '{item}' on type '{type_name}' to expand "
                f"(the Graph simulator expands: {', '.join(sorted(expandable)) or 'nothing'}).",
                "$expand",
            )
