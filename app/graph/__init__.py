"""The Graph boundary: the only code in the service that builds Graph requests or reads replies."""

from app.graph.client import GraphClient, GraphClientConfig
from app.graph.errors import GraphError
from app.graph.results import GraphResult

__all__ = ["GraphClient", "GraphClientConfig", "GraphError", "GraphResult"]
