"""The public HTTP API: routers, dependencies, problem details."""
