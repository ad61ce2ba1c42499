#!/usr/bin/env python3
"""Set up the project's virtualenv and run the service or the tests: needs only Python 3.11.

python3 scripts/dev.py run     # embedded PostgreSQL + Graph simulator on http://127.0.0.1:8000
python3 scripts/dev.py test    # the whole test suite (pytest arguments may follow)
python3 scripts/dev.py lint    # ruff check, ruff format --check, mypy app
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-from"


def _require_python_311() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Python 3.11 is required; this is {sys.version.split()[0]} ({sys.executable}).")


def _ensure_environment() -> None:
    """Create .venv and install the project with its dev extras when pyproject.toml changed."""
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing the project and its dependencies (first run takes a minute)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{REPO}[dev]"], check=True)
    STAMP.write_text(wanted)


def _run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=REPO).returncode


def main(args: list[str]) -> int:
    """Dispatch ``run``, ``test`` or ``lint``."""
    _require_python_311()
    if not args or args[0] not in ("run", "test", "lint"):
        print(__doc__)
        return 2
    _ensure_environment()
    command, rest = args[0], args[1:]
    if command == "run":
        port = os.environ.get("PORT", "8000")
        os.environ.setdefault("LOG_FORMAT", "console")  # a person is reading; JSON is for machines
        print(f"Swagger UI: http://127.0.0.1:{port}/docs", flush=True)
        os.chdir(REPO)
        argv = [str(PYTHON), "-m", "app", "serve", "--port", port, *rest]
        os.execv(argv[0], argv)
    if command == "test":
        return _run([str(PYTHON), "-m", "pytest", *rest])
    checks = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy"), "app"],
    ]
    return max(_run(check) for check in checks)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
