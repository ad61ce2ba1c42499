# syntax=docker/dockerfile:1
# autopatch-rollouts. The default command serves the API on port 8000:
#   python -m app serve --host 0.0.0.0 --port 8000
# The same image runs the other commands, e.g. `docker run --rm -e DATABASE_URL=... IMAGE <cmd>`:
#   python -m app worker    run queued Graph work on its own (several beside API replicas that
#                           set RUN_WORKER=false; docs/architecture.md)
#   python -m app migrate   bring the database at DATABASE_URL to the newest schema; once per
#                           release, before the new API starts (a Kubernetes Job or init container)
#   python -m app doctor    check a configuration before go-live: database and schema, a Graph
#                           token, its WindowsUpdates.ReadWrite.All permission, one catalog read
#                           (exit status 1 if a check fails)
# Production sets DATABASE_URL, GRAPH_MODE=live and the GRAPH_* variables (docs/configuration.md);
# the Helm chart in helm/autopatch-rollouts runs every role from this image (docs/deploying.md).
#
# It runs as uid 10001 and writes nothing to its own filesystem with an external DATABASE_URL,
# so it runs with a read-only root filesystem given a writable /tmp (HOME points there). Without
# DATABASE_URL the embedded PostgreSQL (a trial) writes under DATA_DIR, /tmp and /dev/shm.
#
# The base image is pinned by tag (Python minor version and Debian release); a release pipeline
# should pin it by digest too: --build-arg PYTHON_IMAGE=python:3.13-slim-trixie@sha256:…

ARG PYTHON_IMAGE=python:3.13-slim-trixie

# Build: the service's wheel, installed with its runtime dependencies (never the dev extras)
# into a virtualenv that the runtime stage copies, at the releases of constraints.txt (those
# the test suite last passed with). Every dependency ships binary wheels, so no compiler is
# needed, and none of this stage's tools reach the final image.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt /wheels/*.whl \
 && /opt/venv/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MIGRATIONS_DIR=/srv/migrations \
    DATA_DIR=/srv/.data
# The app user owns only DATA_DIR (the embedded database of a trial); the code and the
# migrations stay root's, read-only to the service. pip is removed: nothing installs at run time.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /srv --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /srv/.data \
 && chown app:app /srv/.data \
 && python -m pip uninstall --yes pip
COPY --from=build /opt/venv /opt/venv
COPY migrations /srv/migrations
WORKDIR /srv
USER 10001:10001
EXPOSE 8000
# /healthz on port 8000 is the API's: turn this off for worker and migrate containers
# (`docker run --no-healthcheck`); Kubernetes ignores it and uses the chart's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
