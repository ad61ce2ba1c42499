"""Helpers for tests that run `python -m app.simulator` as a real process."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, proc: subprocess.Popen[str], deadline: float) -> None:
    """Return once the port accepts connections; fail if the process exits or time runs out."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"simulator exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("simulator did not start")


def stop(proc: subprocess.Popen[str]) -> str:
    """Terminate the process and return everything it wrote."""
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - last resort
        proc.kill()
        output, _ = proc.communicate()
    return output or ""
