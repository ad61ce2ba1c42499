"""build_graph_client in simulator mode: the ASGI app, the fixed simulator credentials, settings."""

from __future__ import annotations

from app.graph.factory import build_graph_client
from app.settings import Settings
from app.simulator import SimulatorState, create_simulator_app

TOKEN_PATH = "/oauth2/v2.0/token"


async def test_simulator_factory_uses_the_in_process_app() -> None:
    state = SimulatorState(synchronous=True)
    graph, close = build_graph_client(
        Settings(graph_mode="simulator", graph_max_ids_per_call=50),
        simulator_app=create_simulator_app(state),
    )
    try:
        assert graph.config.max_ids_per_call == 50
        ids = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(50)]
        await graph.enroll_assets_chunk("feature", ids)
        assert len(state.find("POST", "enrollAssets")[0].body["assets"]) == 50
        token_calls = state.find("POST", TOKEN_PATH)
        assert [(c.status, c.body["client_id"]) for c in token_calls] == [(200, "simulator-client")]
    finally:
        await close()
