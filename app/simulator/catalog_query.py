"""`$filter`, `$orderby` and `$expand` on /catalog/entries, as far as Microsoft's pages use them.

[doc] The exact queries this answers (and close variants: any order of the clauses, either type in
isof, other scalar properties of the derived types, `eq` with true/false or a quoted string):
- "Deploy a feature update" (concepts/windowsupdates-deploy-update.md):
  `$filter=isof('microsoft.graph.windowsUpdates.featureUpdateCatalogEntry')`
- "Deploy an expedited quality update" (concepts/windowsupdates-deploy-expedited-update.md) and
  "Deploy a hotpatch quality update" (concepts/windowsupdates-hotpatch-update.md), the same query:
  `$top=3&$filter=isof('microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry') and
  microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry/isExpeditable eq true
  &$expand=microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry/productRevisions
  &$orderby=releaseDateTime desc`
- Windows Autopatch "Programmatic controls for expedited Windows quality updates" (Microsoft
  Learn): the same filter with `$orderby=releaseDateTime desc&$top=2`, and
  `$expand=…/productRevisions&$orderby=releaseDateTime desc&$top=1` without a filter.
- The PowerShell SDK's example: `-Filter "microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry/
  isExpeditable eq true"` (a cast property; entries of the other type do not match).
Anything else (or, not, parentheses, other operators or functions) is a 400 naming the clause.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.simulator.errors import bad_request
from app.simulator.revisions import product_revisions

NS = "microsoft.graph.windowsUpdates"
BASE = "catalogEntry"
# Scalar properties a filter may compare, by type: "bool" takes true/false, "str" a quoted string.
PROPERTIES: dict[str, dict[str, str]] = {
    BASE: {"id": "str", "displayName": "str"},
    "featureUpdateCatalogEntry": {"version": "str", "buildNumber": "str"},
    "qualityUpdateCatalogEntry": {
        "isExpeditable": "bool",
        "qualityUpdateClassification": "str",
        "qualityUpdateCadence": "str",
        "shortName": "str",
        "catalogName": "str",
    },
}
ORDERABLE = ("releaseDateTime", "displayName")
PRODUCT_REVISIONS = f"{NS}.qualityUpdateCatalogEntry/productRevisions"
EXPANDABLE = frozenset({PRODUCT_REVISIONS})

ISOF_RE = re.compile(r"^isof\(\s*'#?microsoft\.graph\.windowsUpdates\.(\w+)'\s*\)$")
EQ_RE = re.compile(
    r"^(?:microsoft\.graph\.windowsUpdates\.(?P<cast>\w+)/)?(?P<prop>\w+)\s+eq\s+"
    r"(?P<literal>true|false|'(?:[^']|'')*')$"
)
AND_RE = re.compile(r"\s+and\s+")
ORDERBY_RE = re.compile(r"^(?P<prop>\w+)(?:\s+(?P<dir>asc|desc))?$", re.IGNORECASE)

Predicate = Callable[[dict[str, Any]], bool]


def _clauses(text: str) -> list[str]:
    """Split on ` and ` outside quoted strings."""
    clauses, start = [], 0
    for match in AND_RE.finditer(text):
        if text.count("'", 0, match.start()) % 2 == 0:
            clauses.append(text[start : match.start()].strip())
            start = match.end()
    clauses.append(text[start:].strip())
    return clauses


def _unsupported(clause: str) -> Exception:
    return bad_request(
        f"Invalid filter clause: '{clause}' is not supported. The Graph simulator answers "
        f"isof('{NS}.<type>') and [{NS}.<type>/]<property> eq <true|false|'text'> clauses "
        "joined by 'and'.",
        "$filter",
    )


def _isof(type_name: str) -> Predicate:
    if type_name not in PROPERTIES:
        raise bad_request(
            f"Invalid filter clause: '{NS}.{type_name}' is not {NS}.{BASE} or a type derived "
            "from it.",
            "$filter",
        )
    wanted = f"#{NS}.{type_name}"
    return lambda entry: type_name == BASE or entry["@odata.type"] == wanted


def _literal(text: str, kind: str, prop: str) -> Any:
    if kind == "bool" and text in ("true", "false"):
        return text == "true"
    if kind == "str" and text.startswith("'"):
        return text[1:-1].replace("''", "'")
    raise bad_request(f"Invalid filter clause: '{prop}' cannot be compared with {text}.", "$filter")


def _equals(cast: str | None, prop: str, literal: str) -> Predicate:
    owner = cast or BASE
    if owner not in PROPERTIES:
        raise bad_request(f"Invalid filter clause: unknown type '{NS}.{owner}'.", "$filter")
    kind = PROPERTIES[owner].get(prop) or PROPERTIES[BASE].get(prop)
    if kind is None:
        raise bad_request(
            f"Could not find a property named '{prop}' on type '{NS}.{owner}'.", "$filter"
        )
    value = _literal(literal, kind, prop)
    wanted = f"#{NS}.{owner}"
    return lambda entry: (
        (cast is None or entry["@odata.type"] == wanted) and entry.get(prop) == value
    )


def _predicate(clause: str) -> Predicate:
    if isof := ISOF_RE.match(clause):
        return _isof(isof.group(1))
    if eq := EQ_RE.match(clause):
        return _equals(eq.group("cast"), eq.group("prop"), eq.group("literal"))
    raise _unsupported(clause)


def apply_filter(entries: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The entries that satisfy every clause of `text`."""
    predicates = [_predicate(clause) for clause in _clauses(text.strip())]
    return [e for e in entries if all(p(e) for p in predicates)]


def apply_orderby(entries: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Entries sorted by one property, `asc` (default) or `desc`."""
    match = ORDERBY_RE.match(text.strip())
    if match is None or match.group("prop") not in ORDERABLE:
        raise bad_request(
            f"Invalid $orderby: '{text}' is not supported. The Graph simulator orders catalog "
            f"entries by one of {', '.join(ORDERABLE)}, asc or desc.",
            "$orderby",
        )
    prop = match.group("prop")
    descending = (match.group("dir") or "asc").lower() == "desc"
    return sorted(entries, key=lambda e: str(e.get(prop) or ""), reverse=descending)


def with_product_revisions(entry: dict[str, Any]) -> dict[str, Any]:
    """A quality entry with its productRevisions expanded; other entries unchanged."""
    if entry["@odata.type"] != f"#{NS}.qualityUpdateCatalogEntry":
        return entry
    return {**entry, "productRevisions": product_revisions(entry)}
