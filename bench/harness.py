"""Shared plumbing of the benchmarks: a throwaway PostgreSQL database, the Graph simulator run
standalone over TLS, `python -m app serve` / `python -m app worker` processes pointed at it, a
direct Graph client for baselines, statistics, the printed table and the JSON results.

Everything started here is stopped on the way out, also on Ctrl-C, SIGTERM or a failure:
processes are terminated (then killed), databases dropped, temporary folders removed. Child
processes also get SIGTERM from the kernel if the benchmark itself dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self

import httpx
import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TENANT, CLIENT_ID, CLIENT_SECRET = "contoso", "bench-app", "bench-secret"
# The service runs with caller authentication on, as in production: one admin API key.
API_KEY = "bench-admin-key-5f0d9c2a7b1e4c38"
API_HEADERS = {"X-API-Key": API_KEY}
GRAPH_ROOT = "/beta/admin/windows/updates"
NS = "#microsoft.graph.windowsUpdates."
ACTION = "microsoft.graph.windowsUpdates."
FEATURE_VERSION = "Windows 11, version 24H2"
GRAPH_CONCURRENCY_DEFAULT = 4  # app/settings.py: Settings.graph_concurrency
# Environment the service would refuse or that would point it elsewhere: never inherited.
SCRUBBED_PREFIXES = ("GRAPH_", "AUTH_", "DATABASE_", "ENROLLMENT_", "RECONCILE_")
SCRUBBED = {"API_KEYS", "APPROVALS", "APPROVAL_TTL", "RATE_LIMIT_PER_MINUTE", "RUN_WORKER"}
SCRUBBED |= {"REQUIRE_TICKET", "DATA_DIR", "MIGRATIONS_DIR", "LOG_LEVEL", "LOG_FORMAT"}


class BenchError(RuntimeError):
    """The benchmark could not run (a process did not start, a run failed or timed out)."""


# -- command line ------------------------------------------------------------------------------


def run_main(main: Callable[[], int]) -> None:
    """Exit with `main()`'s status; 1 with a one-line message when the benchmark failed, 130
    when interrupted (everything it started is stopped either way)."""
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)


FLEET_ROLLOUT_SIZE = 10_000  # devices per rollout of a preloaded fleet


def fleet_argument(parser: argparse.ArgumentParser) -> None:
    """--fleet: devices recorded before the runs (Bench.preload_fleet)."""
    parser.add_argument(
        "--fleet",
        type=int,
        default=0,
        help="devices recorded before the runs, as an organisation's database holds them:"
        f" managed, members of active rollouts of {FLEET_ROLLOUT_SIZE:,} devices, items of"
        " their finished operations (default 0: the tables start empty)",
    )


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every benchmark takes."""
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="PostgreSQL server where a throwaway database is created and dropped"
        " (default: $BENCH_DATABASE_URL or %(default)s)",
    )
    parser.add_argument(
        "--at-commit",
        metavar="REF",
        help="run the service from `git archive REF` in a temporary folder instead of the"
        " working tree (figures then belong to one commit, whatever is being edited)",
    )
    parser.add_argument(
        "--reconcile-interval",
        type=float,
        default=86400.0,
        help="RECONCILE_INTERVAL_SECONDS of the service (default one day: the periodic drift"
        " check, which reads every rollout's audience from Graph, stays out of the figures)",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        help="the simulator's page size (default: its own, 100): how many Graph pages the"
        " members are read back in",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the results (default: bench/results/<name>-<time>.json)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs (printed path)"
    )


def graph_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """--latency, --throttle and --retry-after: how slow Graph is and how often it says 429."""
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per call")
    parser.add_argument("--throttle", type=float, default=0.05, help="share of calls given 429")
    parser.add_argument("--retry-after", type=int, help="Retry-After of the 429s (default 1)")


# -- small utilities ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def device_ids(count: int, seed: int | None = None) -> list[str]:
    """`count` fresh Entra device ids the simulator registers without error (ids starting d, e
    or f get registration errors there)."""
    rng = random.Random(seed)
    first = "0123456789abc"
    return [
        rng.choice(first) + str(uuid.UUID(int=rng.getrandbits(128), version=4))[1:]
        for _ in range(count)
    ]


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stats(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, max and count of `values`."""
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "n": len(values),
    }


def median(values: Sequence[float]) -> float:
    """The median, NaN for nothing."""
    return statistics.median(values) if values else float("nan")


def parse_time(value: str) -> float:
    """An RFC 3339 timestamp as a Unix time."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def wait_until(check: Callable[[], Any], seconds: float, what: str, every: float = 0.1) -> Any:
    """Call `check` until it returns something truthy; BenchError after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A small fixed-width table on stdout."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def verdict(value: float, target: float, *, at_most: bool) -> str:
    """'met' or 'MISSED' for a figure against its target."""
    ok = value <= target if at_most else value >= target
    return "met" if ok else "MISSED"


# -- processes ---------------------------------------------------------------------------------


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()  # Ctrl-C reaches the benchmark only; it stops its children in order
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with the benchmark


@dataclass
class Process:
    """A child process and its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.popen.pid)

    def alive(self) -> bool:
        """True while it runs."""
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time so far."""
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return int(self.ps.memory_info().rss)

    def tail(self, lines: int = 20) -> str:
        """The end of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout=10)


class Sampler:
    """Calls `sample()` every `every` seconds in a thread while the `with` block runs."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self.samples += 1
            self._stop.wait(self.every)


class PeakSampler(Sampler):
    """Samples a process's RSS in a thread; `peak` is the largest seen."""

    def __init__(self, process: Process, every: float = 0.05) -> None:
        super().__init__(every)
        self.process = process
        self.peak = 0

    def sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self.process.rss())


# -- the simulator and a direct Graph client ----------------------------------------------------


@dataclass
class Simulator:
    """The standalone simulator: its https URL, the CA to trust, and its admin API."""

    url: str
    ca: Path
    process: Process
    admin: httpx.Client

    def faults(self, **settings: Any) -> dict[str, Any]:
        """PATCH /_simulator/faults (latencySeconds, throttleRate, retryAfterSeconds, …)."""
        answer = self.admin.patch("/_simulator/faults", json=settings)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def configure(self, **settings: Any) -> dict[str, Any]:
        """PATCH /_simulator/config (pageSize, synchronous, …); the whole configuration."""
        answer = self.admin.patch("/_simulator/config", json=settings)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def clear_faults(self) -> None:
        """DELETE /_simulator/faults."""
        self.admin.delete("/_simulator/faults").raise_for_status()

    def forget_calls(self) -> None:
        """DELETE /_simulator/calls (keeps the simulator's call log small between runs)."""
        self.admin.delete("/_simulator/calls").raise_for_status()

    def counters(self) -> dict[str, Any]:
        """GET /_simulator/counters: calls received since the last forget_calls, by status."""
        answer = self.admin.get("/_simulator/counters")
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


class Closing(Protocol):
    """Anything the bench closes on the way out (an HTTP client, a Graph contestant)."""

    def close(self) -> None: ...


def fetch_token(http: httpx.Client) -> str:
    """An app-only access token from the simulator's token endpoint (client credentials)."""
    token = http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


class DirectGraph:
    """The Graph calls of a rollout made directly with httpx (the baseline): one keep-alive
    client, a token fetched once, 429/503 retried after Retry-After."""

    def __init__(self, simulator: Simulator, *, ids_per_call: int = 200) -> None:
        self.simulator = simulator
        self.ids_per_call = ids_per_call
        self.http = httpx.Client(base_url=simulator.url, verify=str(simulator.ca), timeout=60)
        self.http.headers["Authorization"] = f"Bearer {fetch_token(self.http)}"
        self.retries = 0
        self.last_write_seconds = 0.0
        self.catalog_entry_id = self._feature_entry(FEATURE_VERSION)

    def close(self) -> None:
        """Close the connection."""
        self.http.close()

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One Graph call, repeated after 429/503 as Retry-After says; raises on other errors."""
        for _ in range(20):
            answer = self.http.request(method, path, json=body)
            if answer.status_code in (429, 503):
                self.retries += 1
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            if answer.status_code >= 400:
                raise BenchError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
            return answer
        raise BenchError(f"{method} {path}: still throttled after 20 attempts")

    def _feature_entry(self, version: str) -> str:
        path = f"{GRAPH_ROOT}/catalog/entries?$filter=isof('{ACTION}featureUpdateCatalogEntry')"
        for entry in self.get_all(path):
            if entry.get("version") == version:
                return str(entry["id"])
        raise BenchError(f"no catalog entry for {version!r} in the simulator")

    def get_all(self, path: str) -> list[dict[str, Any]]:
        """A collection, following @odata.nextLink."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        while url:
            page = self.call("GET", url).json()
            items += page.get("value", [])
            url = page.get("@odata.nextLink")
        return items

    def create_deployment(self) -> str:
        """Create an audience, then a deployment of the feature update to it; the deployment's
        id (the Graph calls of POST /v1/rollouts without devices)."""
        audience = self.call("POST", f"{GRAPH_ROOT}/deploymentAudiences", {}).json()["id"]
        deployment: str = self.call(
            "POST",
            f"{GRAPH_ROOT}/deployments",
            {
                "@odata.type": NS + "deployment",
                "content": {
                    "@odata.type": NS + "catalogContent",
                    "catalogEntry": {
                        "@odata.type": NS + "featureUpdateCatalogEntry",
                        "id": self.catalog_entry_id,
                    },
                },
                "audience": {"@odata.type": NS + "deploymentAudience", "id": audience},
            },
        ).json()["id"]
        return deployment

    def create_rollout(self, devices: Sequence[str]) -> tuple[str, int]:
        """Create audience, create deployment, enrollAssets + updateAudience per chunk, read the
        members back. Returns the deployment id and how many members Graph lists."""
        deployment = self.create_deployment()
        self.last_write_seconds = 0.0
        started = time.perf_counter()
        for chunk in chunks(devices, self.ids_per_call):
            assets = [{"@odata.type": NS + "azureADDevice", "id": d} for d in chunk]
            self.call(
                "POST",
                f"{GRAPH_ROOT}/updatableAssets/{ACTION}enrollAssets",
                {"updateCategory": "feature", "assets": assets},
            )
            self.call(
                "POST",
                f"{GRAPH_ROOT}/deployments/{deployment}/audience/{ACTION}updateAudience",
                {"addMembers": assets},
            )
        self.last_write_seconds = time.perf_counter() - started
        members = self.get_all(f"{GRAPH_ROOT}/deployments/{deployment}/audience/members")
        return deployment, len(members)

    def get_deployment(self, deployment_id: str) -> httpx.Response:
        """GET /deployments/{id}."""
        return self.call("GET", f"{GRAPH_ROOT}/deployments/{deployment_id}")


# -- the bench: everything started, stopped on the way out --------------------------------------


class Bench:
    """Context of one benchmark run: starts things, remembers them, stops them all at the end."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        self.name = name
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.processes: list[Process] = []
        self.databases: list[str] = []
        self.clients: list[Closing] = []
        self.app_dir = REPO
        self.app_commit = _git(REPO, "rev-parse", "HEAD")
        dirty = _git(REPO, "status", "--porcelain", "--", "app", "migrations", "pyproject.toml")
        self.app_dirty = bool(dirty)
        self.started_at = dt.datetime.now(dt.UTC)
        self._old_handlers: dict[int, Any] = {}
        self.failed = False

    # context ---------------------------------------------------------------------------------

    def __enter__(self) -> Bench:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, _interrupt)
        if self.args.at_commit:
            self._snapshot(self.args.at_commit)
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        # Logs are kept after a failure (to read), not after Ctrl-C.
        self.failed = kind is not None and not issubclass(kind, KeyboardInterrupt)
        # Cleaning up must not be interrupted half-way by a second Ctrl-C.
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.cleanup()
        finally:
            handlers: dict[Any, Any] = {**self._old_handlers, **previous}
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def cleanup(self) -> None:
        """Stop every process (newest first), drop every database, remove the temp folder."""
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.close()
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception as exc:
                print(f"could not stop {process.name}: {exc}", file=sys.stderr)
        for name in self.databases:
            try:
                with self._admin() as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:
                print(f"could not drop database {name}: {exc}", file=sys.stderr)
        if self.failed or self.args.keep_logs:
            print(f"logs kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _snapshot(self, ref: str) -> None:
        commit = _git(REPO, "rev-parse", "--verify", f"{ref}^{{commit}}")
        if not commit:
            raise BenchError(f"unknown commit {ref!r}")
        target = self.tmp / "app-at-commit"
        target.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        self.app_dir, self.app_commit, self.app_dirty = target, commit, False

    def announce(self) -> None:
        """Say which code the service runs (commit, edits) and where the logs go."""
        print(
            f"service from {self.app_dir} at {self.app_commit[:12]}"
            f"{' + working-tree changes' if self.app_dirty else ''}; logs in {self.tmp}",
            flush=True,
        )

    # database --------------------------------------------------------------------------------

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(_libpq(self.args.admin_url), autocommit=True)

    def create_database(self) -> str:
        """A fresh, empty database (dropped at the end); its SQLAlchemy URL."""
        name = f"bench_{self.name}_{os.getpid()}_{uuid.uuid4().hex[:6]}".lower()
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        base = self.args.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def postgres_version(self) -> str:
        """SHOW server_version of the admin server."""
        with self._admin() as admin:
            row = admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def postgres_cpu_seconds(self) -> float:
        """CPU time so far of the PostgreSQL backends serving this benchmark's databases (their
        process titles name the database; a backend that has exited no longer counts)."""
        total = 0.0
        for process in psutil.process_iter(["cmdline"]):
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres:") and any(f" {d} " in title for d in self.databases):
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        return total

    def sql(self, database_url: str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement on a database; the rows it returns, if any."""
        with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    def preload_fleet(self, database_url: str, devices: int) -> dict[str, Any]:
        """Record `devices` devices before the runs, as an organisation's database holds them:
        managed (enrolled for feature updates), members of active feature rollouts of
        FLEET_ROLLOUT_SIZE devices each, and items of those rollouts' finished operations; then
        ANALYZE. The benchmarks' own devices then join tables of that size, not empty ones."""
        if devices <= 0:
            return {"devices": 0}
        rollouts = -(-devices // FLEET_ROLLOUT_SIZE)
        started = time.perf_counter()
        with psycopg.connect(_libpq(database_url)) as conn:
            conn.execute(
                "CREATE TEMP TABLE fleet ON COMMIT DROP AS SELECT n,"
                " gen_random_uuid()::text AS device_id,"
                " md5('fleet-rollout-' || (n / %(size)s))::uuid AS rollout_id,"
                " md5('fleet-operation-' || (n / %(size)s))::uuid AS operation_id"
                " FROM generate_series(0, %(devices)s - 1) AS n",
                {"size": FLEET_ROLLOUT_SIZE, "devices": devices},
            )
            conn.execute(
                "INSERT INTO rollouts (id, status, graph_deployment_id, name, update_kind,"
                " catalog_entry_id, settings, created_by)"
                " SELECT DISTINCT rollout_id, 'active', 'fleet-' || rollout_id, 'fleet',"
                " 'feature', 'fleet', '{}'::jsonb, 'bench' FROM fleet"
            )
            conn.execute(
                "INSERT INTO operations (id, kind, rollout_id, status, total, succeeded, failed,"
                " actor, update_category, detail)"
                " SELECT operation_id, 'audience.update', rollout_id, 'succeeded', count(*),"
                " count(*), 0, 'bench', 'feature', '{}'::jsonb FROM fleet"
                " GROUP BY operation_id, rollout_id"
            )
            conn.execute(
                "INSERT INTO operation_items (operation_id, seq, change, device_id, status)"
                " SELECT operation_id, n %% %(size)s, 'addMember', device_id, 'succeeded'"
                " FROM fleet",
                {"size": FLEET_ROLLOUT_SIZE},
            )
            conn.execute(
                "INSERT INTO managed_devices (device_id, category, status, enrolled_by_operation,"
                " last_rollout_id) SELECT device_id, 'feature', 'enrolled', operation_id,"
                " rollout_id FROM fleet"
            )
            conn.execute(
                "INSERT INTO audience_devices (rollout_id, membership, device_id, operation_id)"
                " SELECT rollout_id, 'member', device_id, operation_id FROM fleet"
            )
            conn.commit()
        with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        return {
            "devices": devices,
            "rollouts": rollouts,
            "seconds": round(time.perf_counter() - started, 1),
        }

    # processes -------------------------------------------------------------------------------

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> Process:
        """Start `python <argv>` in the app folder, logging to a file."""
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [PYTHON, *argv],
                cwd=self.app_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_simulator(self, *, synchronous: bool = True) -> Simulator:
        """`python -m app.simulator --tls` on a free port, waited for."""
        port = free_port()
        certs = self.tmp / "sim-certs"
        argv = ["-m", "app.simulator", "--port", str(port), "--tls", "--cert-dir", str(certs)]
        argv += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
        argv += ["--log-level", "warning"]
        if synchronous:
            argv.append("--synchronous")
        process = self.start("simulator", argv, _clean_env())
        ca = certs / "ca.pem"
        url = f"https://127.0.0.1:{port}"
        wait_until(lambda: ca.exists() or self._dead(process), 60, "the simulator's CA")
        self._check(process)
        admin = httpx.Client(base_url=url, verify=str(ca), timeout=60)
        self.clients.append(admin)

        def up() -> bool:
            self._check(process)
            try:
                return admin.get("/_simulator/config").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 60, "the simulator")
        simulator = Simulator(url, ca, process, admin)
        if self.args.page_size:
            simulator.configure(pageSize=self.args.page_size)
        return simulator

    def service_env(self, database_url: str, sim: Simulator, **extra: str) -> dict[str, str]:
        """The service's environment: live Graph at the simulator, this database."""
        env = _clean_env()
        env.update(
            DATABASE_URL=database_url,
            GRAPH_MODE="live",
            GRAPH_BASE_URL=f"{sim.url}/beta",
            GRAPH_AUTHORITY_HOST=sim.url,
            GRAPH_TENANT_ID=TENANT,
            GRAPH_CLIENT_ID=CLIENT_ID,
            GRAPH_CLIENT_SECRET=CLIENT_SECRET,
            GRAPH_CA_BUNDLE=str(sim.ca),
            API_KEYS="bench:admin:" + hashlib.sha256(API_KEY.encode()).hexdigest(),
            # One key drives every request of a benchmark: no per-caller limit on it.
            RATE_LIMIT_PER_MINUTE="0",
            RECONCILE_INTERVAL_SECONDS=str(self.args.reconcile_interval),
            LOG_FORMAT="json",
        )
        env.update(extra)
        return env

    def migrate(self, env: dict[str, str]) -> None:
        """`python -m app migrate` on the service's database."""
        done = subprocess.run(
            [PYTHON, "-m", "app", "migrate"],
            cwd=self.app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise BenchError(f"migrate failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")

    def start_api(self, env: dict[str, str]) -> tuple[Process, httpx.Client]:
        """`python -m app serve` on a free port, waited for until /readyz answers 200."""
        port = free_port()
        process = self.start("api", ["-m", "app", "serve", "--port", str(port)], env)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=API_HEADERS, timeout=120)
        self.clients.append(http)

        def ready() -> bool:
            self._check(process)
            try:
                return http.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 90, "the API (/readyz)", every=0.2)
        return process, http

    def start_worker(self, env: dict[str, str], name: str = "worker") -> Process:
        """`python -m app worker`, its log `<name>.log`; waited for until the log says it
        started. Each worker serves its metrics on a port of its own."""
        env = {**env, "WORKER_METRICS_PORT": str(free_port())}
        process = self.start(name, ["-m", "app", "worker"], env)
        wait_until(
            lambda: self.log_says(process, "worker started"),
            90,
            "the worker",
            every=0.2,
        )
        return process

    def _dead(self, process: Process) -> bool:
        return not process.alive()

    def log_says(self, process: Process, text: str) -> bool:
        """Has the process logged `text`? BenchError if it has died instead."""
        self._check(process)
        return text in process.log.read_text("utf-8")

    def _check(self, process: Process) -> None:
        if not process.alive():
            raise BenchError(
                f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
            )

    # results ---------------------------------------------------------------------------------

    def machine(self) -> dict[str, Any]:
        """What the figures were measured on."""
        return {
            "nproc": os.cpu_count(),
            "memoryBytes": psutil.virtual_memory().total,
            "python": platform.python_version(),
            "postgres": self.postgres_version(),
            "platform": platform.platform(),
            "loadAverage": os.getloadavg(),
        }

    def write_results(self, results: dict[str, Any]) -> Path:
        """Write the JSON results; their path."""
        path = self.args.json or (
            REPO
            / "bench"
            / "results"
            / f"{self.name}-{self.started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "benchmark": self.name,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": dt.datetime.now(dt.UTC).isoformat(),
            "arguments": {
                k: str(v) if isinstance(v, Path) else v for k, v in vars(self.args).items()
            },
            "app": {
                "commit": self.app_commit,
                "workingTreeChanges": self.app_dirty,
                "dir": str(self.app_dir),
            },
            "machine": self.machine(),
            **results,
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return path


# -- the API side ------------------------------------------------------------------------------


def rollout_body(devices: Sequence[str], name: str) -> dict[str, Any]:
    """A create-rollout body for Windows 11 24H2 with `devices`."""
    return {
        "name": name,
        "ticket": "CHG-BENCH",
        "reason": "benchmark",
        "update": {"kind": "feature", "version": FEATURE_VERSION},
        "devices": list(devices),
    }


def wait_operation(
    http: httpx.Client, operation_id: str, *, timeout: float, every: float
) -> dict[str, Any]:
    """Poll GET /v1/operations/{id} until finishedAt is set."""

    def finished() -> dict[str, Any] | None:
        answer = http.get(f"/v1/operations/{operation_id}")
        if answer.status_code != 200:
            raise BenchError(f"GET operation: {answer.status_code} {answer.text[:300]}")
        operation: dict[str, Any] = answer.json()
        return operation if operation.get("finishedAt") else None

    result: dict[str, Any] = wait_until(finished, timeout, f"operation {operation_id}", every)
    return result


def warm_up(http: httpx.Client) -> None:
    """One small create and add, not counted: token, catalog, connections, first queries."""
    warm = create_through_api(http, device_ids(50), timeout=120, poll=0.1, name="bench warm-up")
    if warm["status"] != "succeeded":
        raise BenchError(f"warm-up operation: {warm}")


def slow_graph(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Set the simulator's latency and 429s from graph_fault_arguments and forget the calls so
    far; the faults as the simulator took them."""
    faults: dict[str, float] = {"latencySeconds": args.latency, "throttleRate": args.throttle}
    if args.retry_after is not None:
        faults["retryAfterSeconds"] = args.retry_after
    settings = sim.faults(**faults)
    sim.forget_calls()
    return settings


def create_through_api(
    http: httpx.Client, devices: Sequence[str], *, timeout: float, poll: float, name: str
) -> dict[str, Any]:
    """POST /v1/rollouts with `devices`, then poll its operation until it finished.

    `seconds` runs from just before the POST to the operation's `finishedAt` (the same clock:
    everything is on this machine), so the poll interval does not blur it; `observedSeconds` is
    when the poll saw it."""
    started_wall, started = time.time(), time.perf_counter()
    answer = http.post("/v1/rollouts", json=rollout_body(devices, name))
    created = time.perf_counter()
    if answer.status_code != 201:
        raise BenchError(f"POST /v1/rollouts: {answer.status_code} {answer.text[:500]}")
    rollout = answer.json()
    operation_id = rollout["audienceOperation"]["id"]
    operation = wait_operation(http, operation_id, timeout=timeout, every=poll)
    observed = time.perf_counter() - started
    return {
        "rolloutId": rollout["id"],
        "graphDeploymentId": rollout.get("graphDeploymentId"),
        "operationId": operation_id,
        "status": operation["status"],
        "succeeded": operation["succeeded"],
        "failed": operation["failed"],
        "warnings": len(operation.get("warnings") or []),
        "postSeconds": created - started,
        "seconds": parse_time(operation["finishedAt"]) - started_wall,
        "observedSeconds": observed,
    }


# -- internals ---------------------------------------------------------------------------------


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIXES)
    }


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
