"""The service as the container image installs it: built as a wheel, installed into a fresh
virtualenv outside the repository, migrated and served from there (no source tree beside it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.db_server import REPO, fresh_database
from tests.e2e.processes import free_port, wait_until_answering


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding only the service's wheel; its dependencies are this interpreter's
    (a .pth file), which keeps the test offline and fast. Returns its python."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # as the Dockerfile copies it, so nothing is built inside the repo
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root), "."],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = root.glob("autopatch_rollouts-*.whl")

    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q"]
    done = subprocess.run([*pip, str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Appended after the venv's own site-packages, and its .pth files (this repository's
    # editable install among them) are not run: `app` can only come from the wheel.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    return python


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory with no source tree in it (the image's /srv: migrations only)."""
    shutil.copytree(REPO / "migrations", tmp_path / "srv-migrations")
    (tmp_path / "cwd").mkdir()
    return tmp_path


def service_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "DATABASE_URL", "GRAPH_", "API_KEYS", "AUTH_"))
    }
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", "LOG_FORMAT": "json", **extra}


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def test_the_wheel_runs_from_outside_the_repository(
    installed: Path, outside: Path, database: str
) -> None:
    cwd = outside / "cwd"
    where = subprocess.run(
        [str(installed), "-c", "import app; print(app.__file__)"],
        cwd=cwd,
        env=service_env(),
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parents[1]), where.stdout

    # The wheel does not carry the migrations: without MIGRATIONS_DIR (which the image sets to
    # the copy it ships) `migrate` says so instead of migrating nothing.
    lost = subprocess.run(
        [str(installed), "-m", "app", "migrate"],
        cwd=cwd,
        env=service_env(DATABASE_URL=database),
        capture_output=True,
        text=True,
    )
    assert lost.returncode != 0
    assert "set MIGRATIONS_DIR" in lost.stderr

    env = service_env(DATABASE_URL=database, MIGRATIONS_DIR=str(outside / "srv-migrations"))
    migrated = subprocess.run(
        [str(installed), "-m", "app", "migrate"], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "database schema is at head" in migrated.stdout

    port = free_port()
    process = subprocess.Popen(
        [str(installed), "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, base, "/readyz", seconds=60)
        ready = httpx.get(f"{base}/readyz", timeout=10).json()
        assert ready["checks"] == {"database": "ok", "schema": "ok", "graph": "ok"}
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200
        assert "swagger-ui-bundle.js" in docs.text
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 200
    finally:
        if process.poll() is None:
            process.terminate()
    output = process.communicate(timeout=30)[0].decode(errors="replace")
    # uvicorn finishes its shutdown, then re-raises SIGTERM (so a supervisor sees it).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
