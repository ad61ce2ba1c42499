"""Optional OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. FastAPI makes
a server span per HTTP request (we add its request id); jobs get spans here; Graph calls are
their child spans (app/graph/client.py)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACER = trace.get_tracer("autopatch_rollouts")
"""Spans made before tracing is configured, or with it off, cost nothing and go nowhere."""

_configured: TracerProvider | None = None


class Tracing(SpanProcessor):
    """The exporter one app or worker added to the process's provider; `close()` flushes it and
    detaches it, so that nothing is sent to its collector afterwards."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner
        self.active = True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.active:
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.active:
            self.inner.on_end(span)

    def shutdown(self) -> None:
        self.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def close(self) -> None:
        """Send what is buffered, then stop exporting."""
        if self.active:
            self.active = False
            self.inner.force_flush()
            self.inner.shutdown()


def configure_tracing(
    endpoint: str | None, service_name: str, *, processor: SpanProcessor | None = None
) -> Tracing | None:
    """Send spans over OTLP/HTTP to `endpoint` (or to `processor`, for tests); None when off.

    The OpenTelemetry API allows one global provider per process, so the first configuration
    stays; later calls (tests build many apps) add their processor to it."""
    global _configured
    if endpoint is None and processor is None:
        return None
    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(endpoint or "")))
    if _configured is None:
        _configured = TracerProvider(resource=Resource.create({"service.name": service_name}))
        trace.set_tracer_provider(_configured)
    tracing = Tracing(processor)
    _configured.add_span_processor(tracing)
    return tracing


def _traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL; traces go to /v1/traces."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def tag_request(request_id: str) -> None:
    """Put the request id on the request's server span (FastAPI makes one per request when
    tracing is configured; without it the current span is a no-op)."""
    trace.get_current_span().set_attribute("autopatch.request_id", request_id)
