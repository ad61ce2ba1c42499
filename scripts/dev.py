#!/usr/bin/env python3
"""Set up the project's virtualenv and run the service or the tests: needs only Python 3.11-3.13.

python3 scripts/dev.py run [--port N]  # embedded PostgreSQL + Graph simulator on 127.0.0.1:8000
python3 scripts/dev.py test            # the whole test suite (pytest arguments may follow)
python3 scripts/dev.py lint            # ruff check, ruff format --check, mypy app and bench
python3 scripts/dev.py lock            # pin the newest releases pyproject.toml allows

The virtualenv is `.venv` (or DEV_VENV), made with the Python that runs this script, with the
exact releases of constraints.txt.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ["DEV_VENV"]).resolve() if os.environ.get("DEV_VENV") else REPO / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-from"
LOCK = REPO / "constraints.txt"
LOCK_HEADER = """\
# The exact releases scripts/dev.py installs (pip install -c constraints.txt), and the image too:
# every machine and CI run get the versions the suite last passed with, whatever was released
# since. pyproject.toml keeps the ranges the code supports. `python3 scripts/dev.py lock`
# resolves the newest releases within them again, in a throwaway virtualenv per supported
# Python found on the machine, and rewrites this file (a python_version marker where those
# Pythons resolve differently); then run the tests and the lint before committing it.
"""


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
    """Create .venv and install the project with its dev extras, at the releases of
    constraints.txt, when either file changed."""
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    wanted += " " + hashlib.sha256(LOCK.read_bytes()).hexdigest()
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
    subprocess.run([*pip, "-c", str(LOCK), "-e", f"{REPO}[dev]"], check=True)
    STAMP.write_text(wanted)


def _same_python() -> bool:
    """Was the virtualenv made with this interpreter's minor version?"""
    probe = "import sys; print(sys.version_info[0], sys.version_info[1])"
    found = subprocess.run([str(PYTHON), "-c", probe], capture_output=True, text=True)
    return found.stdout.split() == [str(sys.version_info[0]), str(sys.version_info[1])]


def _supported_pythons() -> dict[str, str]:
    """Each supported Python on this machine ("3.11" → its interpreter): on PATH, or pyenv's."""
    found: dict[str, str] = {}
    for major, minor in SUPPORTED:
        name = f"python{major}.{minor}"
        pyenv = glob.glob(os.path.expanduser(f"~/.pyenv/versions/{major}.{minor}*/bin/{name}"))
        for candidate in [shutil.which(name), *sorted(pyenv, reverse=True)]:
            probe = [candidate or "", "-c", "import venv, ensurepip"]
            if candidate and subprocess.run(probe, capture_output=True).returncode == 0:
                found[f"{major}.{minor}"] = candidate
                break
    return found


def _newest_releases(python: str) -> dict[str, tuple[str, str]]:
    """What pip installs for the project and its dev extras with no constraints, on `python`:
    normalised name → (name, version)."""
    with tempfile.TemporaryDirectory(prefix="dev-lock-") as scratch:
        env = Path(scratch) / "venv"
        subprocess.run([python, "-m", "venv", str(env)], check=True)
        python_in_env = env / ("Scripts" if os.name == "nt" else "bin") / "python"
        pip = [str(python_in_env), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-q", "-e", f"{REPO}[dev]"], check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
        ).stdout
    releases: dict[str, tuple[str, str]] = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version:
            releases[re.sub(r"[-_.]+", "-", name).lower()] = (name, version)
    return releases


def lock_lines(resolved: dict[str, dict[str, tuple[str, str]]]) -> list[str]:
    """constraints.txt's lines from each Python's resolution ("3.11" → releases): one pin per
    package, or one per Python, with a marker, where the Pythons disagree."""
    lines: list[str] = []
    for key in sorted({key for releases in resolved.values() for key in releases}):
        pins = {py: releases[key] for py, releases in resolved.items() if key in releases}
        if len({version for _, version in pins.values()}) == 1:
            name, version = next(iter(pins.values()))
            lines.append(f"{name}=={version}")
            continue
        for py, (name, version) in sorted(pins.items()):
            lines.append(f'{name}=={version}; python_version == "{py}"')
    return lines


def _lock() -> int:
    pythons = _supported_pythons()
    print(f"resolving on Python {', '.join(pythons)}", flush=True)
    resolved = {py: _newest_releases(python) for py, python in pythons.items()}
    LOCK.write_text(LOCK_HEADER + "\n".join(lock_lines(resolved)) + "\n")
    print(f"wrote {LOCK.name}: run `python3 scripts/dev.py test` and the lint, then commit it")
    return 0


def _run(argv: list[str]) -> int:
    return subprocess.run(argv, cwd=REPO).returncode


def _is_port_arg(rest: list[str], index: int) -> bool:
    arg = rest[index]
    return (
        arg == "--port" or arg.startswith("--port=") or (index > 0 and rest[index - 1] == "--port")
    )


def main(args: list[str]) -> int:
    """Dispatch ``run``, ``test``, ``lint`` or ``lock``."""
    _require_supported_python()
    if not args or args[0] not in ("run", "test", "lint", "lock"):
        print(__doc__)
        return 2
    if args[0] == "lock":
        return _lock()
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
