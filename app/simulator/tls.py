"""Throwaway TLS material for serving the simulator over https (a CA and a localhost cert)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files: the CA clients should trust, and the server's cert and key."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_tls_files(cert_dir: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Generate a CA and a server certificate for `hosts` and write them under `cert_dir`."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*hosts)
    files = TlsFiles(cert_dir / "ca.pem", cert_dir / "server.pem", cert_dir / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_pem))
    server.cert_chain_pems[0].write_to_path(str(files.cert_pem))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_pem), append=True)
    server.private_key_pem.write_to_path(str(files.key_pem))
    return files
