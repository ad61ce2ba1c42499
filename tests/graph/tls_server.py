"""The simulator served standalone over https on a free port, in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.simulator import SimulatorState, create_simulator_app
from app.simulator.tls import TlsFiles, make_tls_files


@dataclass(frozen=True)
class RunningSimulator:
    """Where the standalone simulator listens and what to trust."""

    url: str
    state: SimulatorState
    tls: TlsFiles


@contextmanager
def serve_tls(state: SimulatorState, cert_dir: Path) -> Iterator[RunningSimulator]:
    """Run uvicorn with a trustme CA until the block ends."""
    files = make_tls_files(cert_dir)
    config = uvicorn.Config(
        create_simulator_app(state),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(files.cert_pem),
        ssl_keyfile=str(files.key_pem),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the TLS simulator did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningSimulator(f"https://127.0.0.1:{port}", state, files)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
