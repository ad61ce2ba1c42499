"""Starting the service as its own process for end-to-end tests: a free port, and waiting until
it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.auth.keys import API_KEYS
from tests.db_server import REPO
from tests.graph.tls_server import RunningSimulator


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(
    process: subprocess.Popen[bytes], base: str, path: str = "/readyz", seconds: float = 60
) -> None:
    """Return once `base + path` answers 200; AssertionError with the process's output if it
    exits or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.communicate()[0] if process.stdout else b""
            raise AssertionError(
                f"the service did not answer {path}:\n{(output or b'').decode(errors='replace')}"
            )
        time.sleep(0.1)


def live_env(database_url: str, sim: RunningSimulator, **extra: str) -> dict[str, str]:
    """The environment of a service process against the standalone TLS simulator, as against
    a real tenant (client "app" with secret "s"), with the tests' admin API key."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "GRAPH_MODE": "live",
        "GRAPH_BASE_URL": f"{sim.url}/beta",
        "GRAPH_AUTHORITY_HOST": sim.url,
        "GRAPH_TENANT_ID": "contoso",
        "GRAPH_CLIENT_ID": "app",
        "GRAPH_CLIENT_SECRET": "s",
        "GRAPH_CA_BUNDLE": str(sim.tls.ca_pem),
        "API_KEYS": API_KEYS,
        **extra,
    }


def start_serve(
    env: dict[str, str], *, output: int = subprocess.PIPE
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m app serve` on a free loopback port, from the repository; (process, base URL)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"
