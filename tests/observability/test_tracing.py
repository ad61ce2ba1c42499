"""Optional OpenTelemetry tracing: a server span per request carrying its request id, Graph
calls as its child spans, jobs as spans of their own; and spans really exported over OTLP/HTTP
to a collector on a loopback port when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.main import create_app
from app.observability.tracing import configure_tracing
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body
from tests.conftest import fixed_clock, make_settings


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing(None, "autopatch-rollouts-test", processor=SimpleSpanProcessor(exporter))
    return exporter


async def test_a_request_is_a_span_with_its_id_and_graph_calls_are_its_children(
    spans: InMemorySpanExporter, app: Any, client: httpx.AsyncClient
) -> None:
    spans.clear()
    created = await client.post(
        "/v1/rollouts", json=rollout_body(), headers={"X-Request-ID": "chg-trace-1"}
    )
    assert created.status_code == 201
    changed = await client.post(
        f"/v1/rollouts/{created.json()['id']}/audience", json={"addDevices": device_ids(3)}
    )
    await app.state.services.operations.idle()
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.name == "POST /v1/rollouts" and s.kind == SpanKind.SERVER]
    assert len(server) == 1
    assert server[0].attributes["autopatch.request_id"] == "chg-trace-1"
    assert server[0].attributes["http.response.status_code"] == 201
    by_id = {s.context.span_id: s for s in finished}

    def under(span: Any, ancestor: Any) -> bool:
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            if span is ancestor:
                return True
        return False

    children = {s.name for s in finished if under(s, server[0])}
    assert {"graph createAudience", "graph createDeployment"} <= children
    create = next(s for s in finished if s.name == "graph createDeployment")
    assert create.context.trace_id == server[0].context.trace_id
    assert create.attributes["http.response.status_code"] == 201
    assert create.attributes["graph.request_ids"]
    # The audience change runs as a job: its span holds the Graph calls the worker made.
    assert changed.status_code in (200, 202)
    job = next(s for s in finished if s.name == "job run_operation")
    assert job.attributes["autopatch.operation_id"] == changed.json()["id"]
    worker_calls = [s for s in finished if under(s, job)]
    assert "graph updateAudience" in {s.name for s in worker_calls}


@pytest.fixture
def collector() -> Iterator[list[tuple[str, bytes]]]:
    """An OTLP/HTTP collector stand-in on a loopback port: it keeps what it receives."""
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append((self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    received.append(("url", f"http://127.0.0.1:{server.server_address[1]}".encode()))
    yield received
    server.shutdown()
    server.server_close()


async def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(
    clean_database: str, collector: list[tuple[str, bytes]]
) -> None:
    endpoint = collector.pop(0)[1].decode()
    settings: Settings = make_settings(clean_database, otel_exporter_otlp_endpoint=endpoint)
    application = create_app(
        settings, simulator_state=SimulatorState(synchronous=True), clock=fixed_clock
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/v1/catalog/feature-updates")).status_code == 200
    # The lifespan flushed the exporter on shutdown: the collector got protobuf at /v1/traces.
    paths = {path for path, _ in collector}
    assert paths == {"/v1/traces"}
    exported = b"".join(body for _, body in collector)
    assert b"GET /v1/catalog/feature-updates" in exported
    assert b"graph listCatalogEntries" in exported or b"graph " in exported


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    assert Settings().otel_exporter_otlp_endpoint is None
    assert configure_tracing(None, "x") is None
