"""Graph's `@odata.context` URLs.

[doc] Microsoft's responses carry e.g.
`https://graph.microsoft.com/beta/$metadata#admin/windows/updates/deployments/$entity` (a created
deployment), `…#admin/windows/updates/deploymentAudiences/$entity` (a created audience, in
concepts/windowsupdates-manage-driver-update.md), `…#admin/windows/updates/catalog/entries` (a
list) and `…#admin/windows/updates/catalog/entries(microsoft.graph.windowsUpdates.
qualityUpdateCatalogEntry/productRevisions())` (a list with `$expand`, in
concepts/windowsupdates-deploy-expedited-update.md). The service root is the one the request was
sent to (Graph's own host on Graph; the simulator's host here), as OData context URLs are.
"""

from __future__ import annotations

METADATA = "/$metadata#admin/windows/updates/"


def context_url(service_root: str, template: str, params: dict[str, str], expand: list[str]) -> str:
    """The context URL for a route's template, its path parameters and the `$expand` paths."""
    expanded = "(" + ",".join(f"{item}()" for item in expand) + ")" if expand else ""
    return service_root + METADATA + template.format(expand=expanded, **params)
