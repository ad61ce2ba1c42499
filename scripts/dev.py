#!/usr/bin/env python3
"""Set up the project's virtualenv and run the service or the tests: needs only Python 3.11-3.13.

python3 scripts/dev.py run [--port N]  # embedded PostgreSQL + Graph simulator on 127.0.0.1:8000
python3 scripts/dev.py test            # the whole test suite (pytest arguments may follow)
python3 scripts/dev.py lint            # ruff check, ruff format --check, mypy app and bench

The virtualenv is `.venv` (or DEV_VENV), made with the Python that runs this script.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ["DEV_VENV"]).resolve() if os.environ.get("DEV_VENV") else REPO / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-from"


SUPPORTED = ((3, 11), (3, 12), (3, 13))


def _require_supported_python() -> None:
    if sys.version_info[:2] not in SUPPORTED:
        sys.exit(
            f"Python 3.11, 3.12 or 3.13 is required; this is {sys.version.split()[0]}"
            f" ({sys.executable})."
        )


def _port(rest: list[str]) -> str:
    """The port `run` will serve on: `--port N` / `--port=N` among the arguments, else PORT."""
    for index, arg in enumerate(rest):
        if arg == "--port" and index + 1 < len(rest):
            return rest[index + 1]
        if arg.startswith("--port="):
            return arg.split("=", 1)[1]
    return os.environ.get("PORT", "8000")


def _ensure_environment() -> None:
    """Create .venv and install the project with its dev extras when pyproject.toml changed."""
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    wanted += f" python{sys.version_info[0]}.{sys.version_info[1]}"
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if PYTHON.exists() and not _same_python():
        print(f"re-creating {VENV} for Python {sys.version.split()[0]}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if not PYTHON.exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing the project and its dependencies (first run takes a minute)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{REPO}[dev]"], check=True)
    STAMP.write_text(wanted)


def _same_python() -> bool:
    """Was the virtualenv made with this interpreter's minor version?"""
    probe = "import sys; print(sys.version_info[0], sys.version_info[1])"
    found = subprocess.run([str(PYTHON), "-c", probe], capture_output=True, text=True)
    return found.stdout.split() == [str(sys.version_info[0]), str(sys.version_info[1])]


def _run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=REPO).returncode


def _is_port_arg(rest: list[str], index: int) -> bool:
    arg = rest[index]
    return (
        arg == "--port" or arg.startswith("--port=") or (index > 0 and rest[index - 1] == "--port")
    )


def main(args: list[str]) -> int:
    """Dispatch ``run``, ``test`` or ``lint``."""
    _require_supported_python()
    if not args or args[0] not in ("run", "test", "lint"):
        print(__doc__)
        return 2
    _ensure_environment()
    command, rest = args[0], args[1:]
    if command == "run":
        port = _port(rest)
        rest = [a for i, a in enumerate(rest) if not _is_port_arg(rest, i)]
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
        [str(BIN / "mypy"), "bench"],  # the benchmarks run on demand only: types keep them working
    ]
    return max(_run(check) for check in checks)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
