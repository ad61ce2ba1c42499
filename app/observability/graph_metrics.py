"""Graph calls, retries, throttles, seconds waited and token refreshes, read from the counters
each GraphClient keeps (app/graph/metrics.py) when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator
from weakref import WeakValueDictionary

from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.graph.metrics import GraphMetrics

_clients: WeakValueDictionary[str, GraphMetrics] = WeakValueDictionary()


def watch_graph_client(role: str, metrics: GraphMetrics) -> None:
    """Export this client's counters with the label client=`role` (`api` or `worker`); a newer
    client of the same role replaces the older (tests build many apps in one process)."""
    _clients[role] = metrics


class GraphCollector(Collector):
    """The counters of the process's Graph clients, by client role."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        clients = sorted(_clients.items())
        calls = CounterMetricFamily(
            "autopatch_graph_calls",
            "HTTP requests sent to Graph (token requests excluded), by client, operation and"
            " status class (2xx, 4xx, 5xx, network).",
            labels=["client", "operation", "status"],
        )
        retries = _counter("retries", "Graph requests repeated after a failure.")
        throttles = _counter("throttles", "Graph answers 429, or 503 with Retry-After.")
        retry_after = _counter(
            "retry_after_wait_seconds", "Seconds waited on Retry-After and the shared back-off."
        )
        backoff = _counter("backoff_wait_seconds", "Seconds waited backing off other failures.")
        tokens = _counter("token_refreshes", "Times a new Graph token was obtained.")
        in_flight = GaugeMetricFamily(
            "autopatch_graph_calls_in_flight",
            "Graph requests being sent right now.",
            labels=["client"],
        )
        for role, metrics in clients:
            for (operation, status), count in sorted(metrics.calls.items()):
                calls.add_metric([role, operation, status], count)
            retries.add_metric([role], metrics.retries)
            throttles.add_metric([role], metrics.throttles)
            retry_after.add_metric([role], metrics.throttle_wait_seconds)
            backoff.add_metric([role], metrics.backoff_wait_seconds)
            tokens.add_metric([role], metrics.token_refreshes)
            in_flight.add_metric([role], metrics.in_flight)
        yield from (calls, retries, throttles, retry_after, backoff, tokens, in_flight)


def _counter(name: str, documentation: str) -> CounterMetricFamily:
    return CounterMetricFamily(f"autopatch_graph_{name}", documentation, labels=["client"])


REGISTRY.register(GraphCollector())
