"""GraphClient: one method per windowsUpdates call the service makes, with retries and paging.

Retry rules (graph.md "Throttling", "Create is not idempotent"):

- 429 is a refusal before processing: retried for every call, waiting exactly `Retry-After`
  (backoff when absent). A Retry-After longer than the remaining wait budget ends the operation at
  once with GraphThrottled.
- Connection refused / connect timeout: the request never left, so it is retried for every call.
- 503 (honouring Retry-After), other 5xx, read timeouts and dropped connections are ambiguous for a
  write: they are retried with full-jitter backoff only for GETs and writes that are harmless to
  repeat (updateAudience, enroll/unenrollAssets, PATCH to a value, DELETE — whose 404 after such a
  retry means done, and POST /deploymentAudiences, whose duplicate is an unused, harmless audience).
- POST /deployments is repeated only after listing deployments with `$expand=audience` shows that
  none holds our pre-created audience; if one does, it is adopted and returned.
- 401: the cached token is dropped and the call repeated once (not counted as an attempt).
- Caps: `max_attempts` attempts and `max_total_wait` seconds of sleeping per operation.

Pacing (architecture.md "Durable work"; pacing.py): at most `concurrency` requests of one client
are in flight at once (a slot is held per attempt, never while waiting to retry), and a 429 or a
503 with Retry-After holds back every call of the client until one shared instant (now +
Retry-After, or the backoff when absent; a later, longer one extends it, a shorter one does not
shorten it). Those waits count against each call's budget: a call that would have to wait longer
than its budget allows ends at once with GraphThrottled, without sending.

Action URLs use the namespaced spelling of Microsoft's OpenAPI
(`.../audience/microsoft.graph.windowsUpdates.updateAudience`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload
from urllib.parse import quote

import httpx
from opentelemetry.trace import SpanKind, StatusCode

from app.graph import bodies
from app.graph.auth import TokenProvider
from app.graph.errors import (
    GraphAuthError,
    GraphBadRequest,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
    error_from_response,
)
from app.graph.metrics import GraphMetrics
from app.graph.pacing import Clock, Pacer, Sleep
from app.graph.results import GraphResult
from app.graph.retry import RetryBudget, RetryPolicy
from app.graph.specs import (
    AudienceChange,
    ContentSpec,
    DeploymentSettingsSpec,
    RequestedState,
    UpdateCategory,
)
from app.graph.wire import (
    AssetState,
    Deployment,
    DeploymentAudience,
    FeatureUpdateCatalogEntry,
    QualityUpdateCatalogEntry,
    UpdatableAsset,
    parse_asset,
)
from app.observability.tracing import TRACER
from app.request_context import current_request_id

log = logging.getLogger(__name__)

ROOT = "admin/windows/updates"
ACTION = "microsoft.graph.windowsUpdates."
CATALOG_TYPES = {
    "feature": "microsoft.graph.windowsUpdates.featureUpdateCatalogEntry",
    "quality": "microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry",
}

PageListener = Callable[[dict[str, AssetState]], None]
"""Given each page of a listing of devices as it is read (id → AssetState)."""


@dataclass(frozen=True)
class GraphClientConfig:
    """Tunables of the client (from settings GRAPH_MAX_IDS_PER_CALL, GRAPH_MAX_*,
    GRAPH_CONCURRENCY: requests in flight at once)."""

    max_ids_per_call: int = 200
    max_attempts: int = 5
    max_retry_wait_seconds: float = 60.0
    base_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    concurrency: int = 4

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


@dataclass
class _Sent:
    """A successful response and the request ids of every attempt."""

    response: httpx.Response
    request_ids: list[str]


def _segment(value: str) -> str:
    """A path segment with everything but unreserved characters escaped."""
    if not value:
        raise ValueError("an id must not be empty")
    return quote(value, safe="")


def _json(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object of a response, or None for an empty / non-object body."""
    if not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class GraphClient:
    """The service's only speaker of Graph windowsUpdates (beta)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        config: GraphClientConfig | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Clock = time.monotonic,
    ) -> None:
        """`http` has base_url = GRAPH_BASE_URL (e.g. https://graph.microsoft.com/beta).

        `sleep` and `clock` must agree (tests pass a fake pair). `self.metrics` counts every
        request, retry, throttle and wait, for an exporter to read.
        """
        self._http = http
        self._tokens = tokens
        self.config = config or GraphClientConfig()
        self._policy = RetryPolicy(
            max_attempts=self.config.max_attempts,
            max_total_wait=self.config.max_retry_wait_seconds,
            base_delay=self.config.base_backoff_seconds,
            max_delay=self.config.max_backoff_seconds,
        )
        self._rand = rand
        self.metrics = GraphMetrics()
        self._pacer = Pacer(self.config.concurrency, sleep=sleep, clock=clock, metrics=self.metrics)
        self._last_token: str | None = None

    async def ensure_token(self) -> None:
        """Obtain (or reuse) a token; raises GraphAuthError when none can be had (readiness)."""
        await self.access_token()

    async def access_token(self) -> str:
        """The bearer token calls are sent with (doctor reads it); GraphAuthError if none."""
        token = await self._tokens.token()
        if token != self._last_token:
            self._last_token = token
            self.metrics.token_refreshes += 1
        return token

    # ---- transport -------------------------------------------------------------------------

    def _budget(self) -> RetryBudget:
        """A fresh retry budget for one operation."""
        return RetryBudget(self._policy, self._rand)

    async def _headers(self, has_body: bool, client_request_id: str) -> dict[str, str]:
        """Authorization, client-request-id, Prefer (and Content-Type on bodies)."""
        headers = {
            "Authorization": f"Bearer {await self.access_token()}",
            "client-request-id": client_request_id,
            "Prefer": "include-unknown-enum-members",
            "Accept": "application/json",
        }
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _check_same_origin(self, url: str) -> None:
        """Refuse to send our token to a nextLink outside the Graph base URL."""
        target = httpx.URL(url)
        if not target.is_absolute_url:
            return
        base = self._http.base_url
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise GraphError(None, "foreignNextLink", f"refusing to follow a link to {target.host}")

    async def _send(self, operation: str, method: str, url: str, **options: Any) -> _Sent:
        """`_send_with_retries` inside a tracing span (a child of the request's or job's span;
        free when tracing is off): the operation, its attempts' request ids, the outcome."""
        with TRACER.start_as_current_span(
            f"graph {operation}",
            kind=SpanKind.CLIENT,
            attributes={"graph.operation": operation, "http.request.method": method},
        ) as span:
            try:
                sent = await self._send_with_retries(operation, method, url, **options)
            except GraphError as error:
                span.set_attribute("graph.request_ids", list(error.request_ids))
                span.set_attribute("http.response.status_code", error.status or 0)
                span.set_status(StatusCode.ERROR, error.code)
                raise
            span.set_attribute("graph.request_ids", sent.request_ids)
            span.set_attribute("http.response.status_code", sent.response.status_code)
            return sent

    async def _send_with_retries(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        repeatable: bool,
        budget: RetryBudget | None = None,
        gone_means_done: bool = False,
    ) -> _Sent:
        """One Graph operation with retries; the 2xx response or the typed error.

        `operation` names the call in the metrics (e.g. "updateAudience").
        `repeatable`: may the request be repeated after an ambiguous failure (timeout, lost
        response, 5xx)? Refusals (429, connection refused) are repeated regardless.
        `gone_means_done`: a 404 after an ambiguous failure counts as success (DELETE).
        """
        budget = budget or self._budget()
        client_request_id = current_request_id()  # one id for every attempt of the operation
        request_ids: list[str] = []
        reauthenticated = False
        ambiguous_before = False
        pause, throttled = 0.0, False
        while True:
            headers = await self._headers(body is not None, client_request_id)
            if not await self._pacer.acquire(budget, pause, throttled=throttled):
                raise self._held_back(method, url, request_ids, ambiguous_before)
            budget.start_attempt()
            try:
                outcome, retry_after = await self._attempt(
                    operation, method, url, body, params, headers, request_ids
                )
            finally:
                self._pacer.release()
            if isinstance(outcome, httpx.Response):
                return _Sent(outcome, request_ids)
            error = outcome
            throttled = self._note_throttle(error, retry_after)
            if error.status == 401 and not reauthenticated:
                reauthenticated = True
                budget.attempts -= 1
                await self._tokens.invalidate()
                self.metrics.retries += 1
                pause = 0.0
                continue
            if isinstance(error, GraphNotFound) and gone_means_done and ambiguous_before:
                return _Sent(httpx.Response(204), request_ids)
            refused = error.status == 429 or error.code == "connectFailed"
            ambiguous = not refused and (
                isinstance(error, GraphTimeout)
                or (error.status or 0) >= 500
                or error.status is None
            )
            if ambiguous and method != "GET":
                error.outcome_unknown = True
            if not (refused or (ambiguous and repeatable)) or isinstance(error, GraphAuthError):
                raise error.with_request_ids(tuple(request_ids))
            wait = budget.next_wait(retry_after)
            if wait is None:
                log.warning(
                    "graph %s %s: giving up after %d attempt(s)", method, url, budget.attempts
                )
                raise error.with_request_ids(tuple(request_ids))
            if throttled and retry_after is None:
                self._pacer.hold_off(wait)  # no Retry-After: the others share this backoff
            ambiguous_before = ambiguous_before or ambiguous
            log.info("graph %s %s: %s, retrying in %.2fs", method, url, error.code, wait)
            self.metrics.retries += 1
            pause = wait

    def _note_throttle(self, error: GraphError, retry_after: float | None) -> bool:
        """Is `error` Graph throttling us (429, 503 with Retry-After)? Its Retry-After holds
        back every call of the client."""
        if error.status != 429 and retry_after is None:
            return False
        self.metrics.throttles += 1
        if retry_after is not None:
            self._pacer.hold_off(retry_after)
        return True

    def _held_back(
        self, method: str, url: str, request_ids: list[str], ambiguous_before: bool
    ) -> GraphThrottled:
        """The error of a call the shared back-off would hold longer than its budget allows."""
        wait = self._pacer.held_for()
        log.warning("graph %s %s: throttled for %.2fs more, beyond the budget", method, url, wait)
        return GraphThrottled(
            None,
            "TooManyRequests",
            f"Graph throttled this client for {wait:.1f}s more, beyond the call's retry budget",
            retry_after=wait,
            request_ids=tuple(request_ids),
            outcome_unknown=ambiguous_before and method != "GET",
        )

    async def _attempt(
        self,
        operation: str,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        request_ids: list[str],
    ) -> tuple[httpx.Response | GraphError, float | None]:
        """Send once; the 2xx response, or the typed error and its Retry-After."""
        failure: GraphError
        try:
            response = await self._http.request(
                method, url, json=body, params=params, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            failure = GraphUnavailable(None, "connectFailed", f"cannot reach Graph: {exc!r}")
        except httpx.TimeoutException as exc:
            failure = GraphTimeout(None, "timeout", f"Graph did not answer in time: {exc!r}")
        except httpx.TransportError as exc:
            failure = GraphUnavailable(None, "connectionLost", f"connection to Graph lost: {exc!r}")
        else:
            self.metrics.record_call(operation, response.status_code)
            request_id = response.headers.get("request-id")
            if request_id:
                request_ids.append(request_id)
            if response.is_success:
                return response, None
            error = error_from_response(response)
            retry_after = error.retry_after if response.status_code in (429, 503) else None
            return error, retry_after
        self.metrics.record_call(operation, None)
        return failure, None

    async def _pages(
        self, operation: str, path: str, params: dict[str, str] | None, request_ids: list[str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """GET a collection page by page, following `@odata.nextLink` verbatim until it is
        absent; each page's request ids are added to `request_ids`."""
        url: str | None = path
        page_params = params
        while url is not None:
            self._check_same_origin(url)
            sent = await self._send(operation, "GET", url, params=page_params, repeatable=True)
            request_ids += sent.request_ids
            page = _json(sent.response) or {}
            values = page.get("value")
            yield [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
            next_link = page.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) and next_link else None
            page_params = None

    async def _get_all(
        self, operation: str, path: str, params: dict[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """GET every page of a collection."""
        items: list[dict[str, Any]] = []
        request_ids: list[str] = []
        async for page in self._pages(operation, path, params, request_ids):
            items += page
        return items, request_ids

    async def _states(
        self, operation: str, path: str, on_page: PageListener | None = None
    ) -> GraphResult[dict[str, AssetState]]:
        """Every asset of a collection as id → AssetState, page by page (constant memory per
        page, whatever the size of the collection); `on_page` is given each page's states as
        they come."""
        states: dict[str, AssetState] = {}
        request_ids: list[str] = []
        async for page in self._pages(operation, path, None, request_ids):
            read = dict(AssetState.of_body(item) for item in page)
            states.update(read)
            if on_page is not None:
                on_page(read)
        return GraphResult(states, request_ids)

    # ---- catalog ---------------------------------------------------------------------------

    @overload
    async def list_catalog_entries(
        self, kind: Literal["feature"]
    ) -> GraphResult[list[FeatureUpdateCatalogEntry]]: ...

    @overload
    async def list_catalog_entries(
        self, kind: Literal["quality"]
    ) -> GraphResult[list[QualityUpdateCatalogEntry]]: ...

    async def list_catalog_entries(
        self, kind: Literal["feature", "quality"]
    ) -> (
        GraphResult[list[FeatureUpdateCatalogEntry]] | GraphResult[list[QualityUpdateCatalogEntry]]
    ):
        """GET /catalog/entries filtered to feature or quality updates (all pages)."""
        params = {"$filter": f"isof('{CATALOG_TYPES[kind]}')"}
        items, ids = await self._get_all("listCatalogEntries", f"{ROOT}/catalog/entries", params)
        if kind == "feature":
            return GraphResult([FeatureUpdateCatalogEntry.model_validate(i) for i in items], ids)
        return GraphResult([QualityUpdateCatalogEntry.model_validate(i) for i in items], ids)

    # ---- deployments -----------------------------------------------------------------------

    async def create_audience(self) -> GraphResult[DeploymentAudience]:
        """POST /deploymentAudiences {} (repeatable: a spare audience is unused and harmless)."""
        sent = await self._send(
            "createAudience", "POST", f"{ROOT}/deploymentAudiences", body={}, repeatable=True
        )
        audience = DeploymentAudience.model_validate(_json(sent.response) or {})
        return GraphResult(audience, sent.request_ids)

    async def create_deployment(
        self,
        content: ContentSpec,
        settings: DeploymentSettingsSpec | None,
        audience_id: str,
    ) -> GraphResult[Deployment]:
        """POST /deployments with our pre-created audience; never creates two.

        After an ambiguous failure (timeout, lost response, 5xx) the client waits its backoff (or
        Retry-After) first — Graph's lists are eventually consistent — then lists deployments:
        one holding `audience_id` is ours and is returned (adopted); only when none does is the
        POST sent again. A 409 on such a repeat (the audience already backs a deployment) is
        checked the same way. If the budget runs out or the check itself fails, the error is
        raised with `outcome_unknown=True`: reconcile later with find_deployment_by_audience.
        """
        body = bodies.create_deployment_body(content, settings, audience_id)
        budget = self._budget()
        request_ids: list[str] = []
        repeated = False
        while True:
            try:
                sent = await self._send(
                    "createDeployment",
                    "POST",
                    f"{ROOT}/deployments",
                    body=body,
                    repeatable=False,
                    budget=budget,
                )
            except GraphError as exc:
                request_ids += exc.request_ids
                conflict_on_repeat = repeated and isinstance(exc, GraphConflict)
                if not (exc.outcome_unknown or conflict_on_repeat):
                    raise exc.with_request_ids(tuple(request_ids)) from None
                exc.outcome_unknown = True
                found = await self._adopt(audience_id, exc, budget, request_ids)
                if found is not None:
                    return GraphResult(found, request_ids)
                if conflict_on_repeat:
                    raise exc.with_request_ids(tuple(request_ids)) from None
                repeated = True
                continue
            request_ids += sent.request_ids
            return GraphResult(Deployment.model_validate(_json(sent.response) or {}), request_ids)

    async def _adopt(
        self, audience_id: str, failure: GraphError, budget: RetryBudget, request_ids: list[str]
    ) -> Deployment | None:
        """After `failure`, wait, then return the deployment holding our audience if any.

        Raises `failure` when the budget is spent or the deployments cannot be listed.
        """
        wait = budget.next_wait(failure.retry_after if failure.status == 503 else None)
        if wait is None:
            raise failure.with_request_ids(tuple(request_ids))
        throttled = failure.status == 503 and failure.retry_after is not None
        if not await self._pacer.wait(budget, wait, throttled=throttled):
            raise failure.with_request_ids(tuple(request_ids))
        try:
            found = await self.find_deployment_by_audience(audience_id)
        except GraphError as check_failed:
            request_ids += check_failed.request_ids
            raise failure.with_request_ids(tuple(request_ids)) from check_failed
        request_ids += found.request_ids
        if found.value is not None:
            log.warning("adopted deployment %s after %s", found.value.id, failure.code)
        return found.value

    async def get_deployment(self, deployment_id: str) -> GraphResult[Deployment]:
        """GET /deployments/{id}; GraphNotFound if there is none."""
        sent = await self._send(
            "getDeployment", "GET", f"{ROOT}/deployments/{_segment(deployment_id)}", repeatable=True
        )
        return GraphResult(Deployment.model_validate(_json(sent.response) or {}), sent.request_ids)

    async def list_deployments(
        self, expand_audience: bool = False
    ) -> GraphResult[list[Deployment]]:
        """GET /deployments (all pages), optionally with `$expand=audience`."""
        params = {"$expand": "audience"} if expand_audience else None
        items, ids = await self._get_all("listDeployments", f"{ROOT}/deployments", params)
        return GraphResult([Deployment.model_validate(i) for i in items], ids)

    async def find_deployment_by_audience(self, audience_id: str) -> GraphResult[Deployment | None]:
        """The deployment whose audience is `audience_id`, or None (crash reconciliation).

        `$expand=audience` is in Microsoft's OpenAPI but not in the list-deployments page
        (graph.md): if Graph refuses it (400) or leaves a deployment's audience out, each such
        deployment's audience is read on its own, so adoption never depends on the expansion.
        """
        try:
            listed = await self.list_deployments(expand_audience=True)
        except GraphBadRequest:
            listed = await self.list_deployments(expand_audience=False)
        request_ids = list(listed.request_ids)
        for deployment in listed.value:
            if deployment.audience is None:
                path = f"{ROOT}/deployments/{_segment(deployment.id)}/audience"
                sent = await self._send("getDeploymentAudience", "GET", path, repeatable=True)
                request_ids += sent.request_ids
                audience = DeploymentAudience.model_validate(_json(sent.response) or {"id": ""})
            else:
                audience = DeploymentAudience(id=deployment.audience.id or "")
            if audience.id == audience_id:
                return GraphResult(deployment, request_ids)
        return GraphResult(None, request_ids)

    async def _patch_deployment(
        self, deployment_id: str, body: dict[str, Any]
    ) -> GraphResult[Deployment | None]:
        """PATCH /deployments/{id}; the deployment when Graph returns one (202/200), else None."""
        sent = await self._send(
            "updateDeployment",
            "PATCH",
            f"{ROOT}/deployments/{_segment(deployment_id)}",
            body=body,
            repeatable=True,
        )
        data = _json(sent.response)
        value = Deployment.model_validate(data) if data and "id" in data else None
        return GraphResult(value, sent.request_ids)

    async def set_requested_state(
        self, deployment_id: str, requested: RequestedState
    ) -> GraphResult[Deployment | None]:
        """Pause ("paused"), resume ("none") or archive ("archived"); Graph applies it later."""
        return await self._patch_deployment(deployment_id, bodies.state_body(requested))

    async def update_settings(
        self,
        deployment_id: str,
        settings: DeploymentSettingsSpec,
        kind: Literal["feature", "quality"] | None = None,
    ) -> GraphResult[Deployment | None]:
        """PATCH the settings (pass `kind` to have expedite on a feature update refused)."""
        return await self._patch_deployment(
            deployment_id, bodies.update_settings_body(settings, kind)
        )

    async def delete_deployment(self, deployment_id: str) -> GraphResult[None]:
        """DELETE /deployments/{id}; a 404 on a repeat after a lost response counts as done."""
        sent = await self._send(
            "deleteDeployment",
            "DELETE",
            f"{ROOT}/deployments/{_segment(deployment_id)}",
            repeatable=True,
            gone_means_done=True,
        )
        return GraphResult(None, sent.request_ids)

    # ---- audience --------------------------------------------------------------------------

    async def update_audience_chunk(
        self, deployment_id: str, change: AudienceChange
    ) -> GraphResult[None]:
        """One updateAudience call (at most max_ids_per_call ids); raises GraphError."""
        if change.size > self.config.max_ids_per_call:
            raise ValueError(f"{change.size} ids exceed {self.config.max_ids_per_call} per call")
        if change.size == 0:
            return GraphResult(None, [])
        sent = await self._send(
            "updateAudience",
            "POST",
            f"{ROOT}/deployments/{_segment(deployment_id)}/audience/{ACTION}updateAudience",
            body=bodies.update_audience_body(change),
            repeatable=True,
        )
        return GraphResult(None, sent.request_ids)

    async def _list_audience(
        self, deployment_id: str, relation: Literal["members", "exclusions"]
    ) -> GraphResult[list[UpdatableAsset]]:
        """Members or exclusions; a 404 while the deployment exists means empty (graph.md)."""
        path = f"{ROOT}/deployments/{_segment(deployment_id)}/audience/{relation}"
        try:
            items, ids = await self._get_all(f"listAudience{relation.title()}", path)
        except GraphNotFound as missing:
            existing = await self.get_deployment(deployment_id)  # GraphNotFound if truly gone
            return GraphResult([], [*missing.request_ids, *existing.request_ids])
        return GraphResult([parse_asset(i) for i in items], ids)

    async def audience_states(
        self,
        deployment_id: str,
        relation: Literal["members", "exclusions"],
        on_page: PageListener | None = None,
    ) -> GraphResult[dict[str, AssetState]]:
        """Members or exclusions as id → AssetState (enrollment, registration errors); a 404
        while the deployment exists means empty (graph.md). `on_page` sees each page as read."""
        path = f"{ROOT}/deployments/{_segment(deployment_id)}/audience/{relation}"
        try:
            return await self._states(f"listAudience{relation.title()}", path, on_page)
        except GraphNotFound as missing:
            existing = await self.get_deployment(deployment_id)  # GraphNotFound if truly gone
            return GraphResult({}, [*missing.request_ids, *existing.request_ids])

    async def updatable_asset_states(self) -> GraphResult[dict[str, AssetState]]:
        """Every device the deployment service knows, as id → AssetState."""
        return await self._states("listUpdatableAssets", f"{ROOT}/updatableAssets")

    async def list_audience_members(self, deployment_id: str) -> GraphResult[list[UpdatableAsset]]:
        """GET .../audience/members (all pages); usually AzureADDevice items."""
        return await self._list_audience(deployment_id, "members")

    async def list_audience_exclusions(
        self, deployment_id: str
    ) -> GraphResult[list[UpdatableAsset]]:
        """GET .../audience/exclusions (all pages)."""
        return await self._list_audience(deployment_id, "exclusions")

    # ---- devices ---------------------------------------------------------------------------

    async def _assets_chunk(
        self, action: str, category: UpdateCategory, ids: tuple[str, ...]
    ) -> GraphResult[None]:
        """One enrollAssets / unenrollAssets call."""
        if len(ids) > self.config.max_ids_per_call:
            raise ValueError(f"{len(ids)} ids exceed {self.config.max_ids_per_call} per call")
        if not ids:
            return GraphResult(None, [])
        sent = await self._send(
            action,
            "POST",
            f"{ROOT}/updatableAssets/{ACTION}{action}",
            body=bodies.assets_body(category, ids),
            repeatable=True,
        )
        return GraphResult(None, sent.request_ids)

    async def enroll_assets_chunk(
        self, category: UpdateCategory, ids: Iterable[str]
    ) -> GraphResult[None]:
        """One enrollAssets call (at most max_ids_per_call ids); raises GraphError."""
        return await self._assets_chunk("enrollAssets", category, tuple(ids))

    async def unenroll_assets_chunk(
        self, category: UpdateCategory, ids: Iterable[str]
    ) -> GraphResult[None]:
        """One unenrollAssets call (at most max_ids_per_call ids); raises GraphError."""
        return await self._assets_chunk("unenrollAssets", category, tuple(ids))

    async def get_updatable_asset(self, asset_id: str) -> GraphResult[UpdatableAsset | None]:
        """GET /updatableAssets/{id}; None when Graph does not know the device (404)."""
        try:
            sent = await self._send(
                "getUpdatableAsset",
                "GET",
                f"{ROOT}/updatableAssets/{_segment(asset_id)}",
                repeatable=True,
            )
        except GraphNotFound as missing:
            return GraphResult(None, list(missing.request_ids))
        return GraphResult(parse_asset(_json(sent.response) or {}), sent.request_ids)
