"""The rollout's Graph calls made with Microsoft's own Graph SDK for Python (msgraph-beta-sdk:
Kiota request builders, models and serialisers on httpx, with the SDK's default middleware,
whose retry handler honours Retry-After), for `create_and_add.py --sdk`. The same calls as
harness.DirectGraph: create audience, create deployment, per chunk enrollAssets then
updateAudience, then the members read back page by page.

Not installed with the project (about 700 MB): `.venv/bin/pip install -e '.[dev,graph-sdk]'`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from harness import BenchError, Simulator, chunks, fetch_token

INSTALL = "--sdk needs Microsoft's Graph SDK: .venv/bin/pip install -e '.[dev,graph-sdk]'"


def require_sdk() -> None:
    """Fail at once, before anything is started, when the SDK is not installed."""
    try:
        import msgraph_beta  # noqa: F401
    except ImportError as missing:
        raise BenchError(f"{INSTALL} ({missing})") from missing


class SdkGraph:
    """One GraphServiceClient against the simulator, on its own event loop; a token fetched
    once (as DirectGraph does) and handed to the SDK by a bearer-token provider."""

    def __init__(
        self, simulator: Simulator, catalog_entry_id: str, *, ids_per_call: int = 200
    ) -> None:
        require_sdk()
        from kiota_abstractions.authentication import (
            AccessTokenProvider,
            AllowedHostsValidator,
            BaseBearerTokenAuthenticationProvider,
        )
        from msgraph_beta import GraphRequestAdapter, GraphServiceClient
        from msgraph_core import APIVersion, GraphClientFactory

        self.catalog_entry_id = catalog_entry_id
        self.ids_per_call = ids_per_call
        self.last_write_seconds = 0.0
        with httpx.Client(base_url=simulator.url, verify=str(simulator.ca), timeout=60) as http:
            token = fetch_token(http)
        host = urlsplit(simulator.url).hostname or "127.0.0.1"

        # Without the SDK installed the base class is Any (mypy: misc); with it, it is not.
        class FetchedToken(AccessTokenProvider):  # type: ignore[misc, unused-ignore]
            async def get_authorization_token(
                self, uri: str, additional_authentication_context: Any = None
            ) -> str:
                return token

            def get_allowed_hosts_validator(self) -> Any:
                return AllowedHostsValidator([host])

        self.runner = asyncio.Runner()
        self.http = self.runner.run(self._client(simulator))
        http_client = GraphClientFactory.create_with_default_middleware(
            api_version=APIVersion.beta, client=self.http
        )
        adapter = GraphRequestAdapter(
            BaseBearerTokenAuthenticationProvider(FetchedToken()), client=http_client
        )
        adapter.base_url = f"{simulator.url}/beta"
        self.client = GraphServiceClient(request_adapter=adapter)

    @staticmethod
    async def _client(simulator: Simulator) -> httpx.AsyncClient:
        """The SDK's httpx client, made on the runner's loop and trusting the simulator's CA."""
        return httpx.AsyncClient(verify=str(simulator.ca), timeout=60)

    def close(self) -> None:
        """Close the connection and the loop."""
        self.runner.run(self.http.aclose())
        self.runner.close()

    def create_rollout(self, devices: Sequence[str]) -> tuple[str, int]:
        """What DirectGraph.create_rollout does, through the SDK."""
        return self.runner.run(self._create_rollout(devices))

    async def _create_rollout(self, devices: Sequence[str]) -> tuple[str, int]:
        from msgraph_beta.generated.admin.windows.updates.deployments.item.audience.microsoft_graph_windows_updates_update_audience.update_audience_post_request_body import (  # noqa: E501
            UpdateAudiencePostRequestBody,
        )
        from msgraph_beta.generated.admin.windows.updates.updatable_assets.microsoft_graph_windows_updates_enroll_assets.enroll_assets_post_request_body import (  # noqa: E501
            EnrollAssetsPostRequestBody,
        )
        from msgraph_beta.generated.models.windows_updates.azure_a_d_device import AzureADDevice
        from msgraph_beta.generated.models.windows_updates.catalog_content import CatalogContent
        from msgraph_beta.generated.models.windows_updates.deployment import Deployment
        from msgraph_beta.generated.models.windows_updates.deployment_audience import (
            DeploymentAudience,
        )
        from msgraph_beta.generated.models.windows_updates.feature_update_catalog_entry import (
            FeatureUpdateCatalogEntry,
        )
        from msgraph_beta.generated.models.windows_updates.update_category import UpdateCategory

        updates = self.client.admin.windows.updates
        audience = await updates.deployment_audiences.post(DeploymentAudience())
        deployment = await updates.deployments.post(
            Deployment(
                content=CatalogContent(
                    catalog_entry=FeatureUpdateCatalogEntry(id=self.catalog_entry_id)
                ),
                audience=DeploymentAudience(id=audience.id),
            )
        )
        if deployment is None or deployment.id is None:
            raise BenchError("the SDK's create deployment returned nothing")
        this = updates.deployments.by_deployment_id(deployment.id)
        started = time.perf_counter()
        for chunk in chunks(devices, self.ids_per_call):
            assets = [AzureADDevice(id=d) for d in chunk]
            await updates.updatable_assets.microsoft_graph_windows_updates_enroll_assets.post(
                EnrollAssetsPostRequestBody(update_category=UpdateCategory.Feature, assets=assets)
            )
            await this.audience.microsoft_graph_windows_updates_update_audience.post(
                UpdateAudiencePostRequestBody(add_members=assets)
            )
        self.last_write_seconds = time.perf_counter() - started
        members = 0
        page = await this.audience.members.get()
        while page is not None:
            members += len(page.value or [])
            if not page.odata_next_link:
                break
            page = await this.audience.members.with_url(page.odata_next_link).get()
        return deployment.id, members
