"""`python -m app.simulator`: serve the Graph simulator standalone (http, or https with --tls)."""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from app.simulator.app import create_simulator_app
from app.simulator.state import SimulatorState
from app.simulator.tls import make_tls_files
from app.simulator.tokens import ROLES


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m app.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--tls", action="store_true", help="serve https with a generated CA")
    parser.add_argument("--cert-dir", type=Path, help="where ca.pem goes (default: a temp dir)")
    parser.add_argument("--client-id", help="only this client id gets tokens")
    parser.add_argument("--client-secret", help="only this secret is accepted")
    parser.add_argument("--synchronous", action="store_true", help="apply 202 changes at once")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="info: one line per request on stderr (logger app.simulator); warning: quiet",
    )
    parser.add_argument(
        "--roles",
        type=lambda value: [role.strip() for role in value.split(",") if role.strip()],
        default=None,
        help="comma-separated application permissions its tokens carry ('' for none; default "
        + ",".join(ROLES)
        + ")",
    )
    parser.add_argument(
        "--client-certificate",
        type=Path,
        action="append",
        default=[],
        help="PEM certificate (or public key) whose key may sign client assertions; repeatable",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the state from the arguments and run uvicorn until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = SimulatorState(
        client_id=args.client_id,
        client_secret=args.client_secret,
        synchronous=args.synchronous,
        seed=args.seed,
    )
    if args.roles is not None:
        state.granted_roles = args.roles
    for pem in args.client_certificate:
        state.register_certificate(pem.read_text())
    certfile = keyfile = None
    if args.tls:
        cert_dir = args.cert_dir or Path(tempfile.mkdtemp(prefix="graph-simulator-"))
        files = make_tls_files(cert_dir)
        certfile, keyfile = str(files.cert_pem), str(files.key_pem)
        print(f"CA certificate: {files.ca_pem}", flush=True)
    scheme = "https" if args.tls else "http"
    print(f"Graph simulator: {scheme}://{args.host}:{args.port}/beta", flush=True)
    uvicorn.run(
        create_simulator_app(state),
        host=args.host,
        port=args.port,
        log_level="warning",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=1,  # idle TLS keep-alive connections would block shutdown
    )


if __name__ == "__main__":
    main()
