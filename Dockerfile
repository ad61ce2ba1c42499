# syntax=docker/dockerfile:1
# autopatch-rollouts. The default command serves the API on port 8000:
#   python -m app serve --host 0.0.0.0
# The same image runs the other commands, e.g. `docker run --rm -e DATABASE_URL=... IMAGE <cmd>`:
#   python -m app worker    run queued Graph work on its own (several beside API replicas that
#                           set RUN_WORKER=false; docs/architecture.md)
#   python -m app migrate   bring the database at DATABASE_URL to the newest schema; once per
#                           release, before the new API starts (a Kubernetes Job or init container)
#   python -m app doctor    check a configuration before go-live: database and schema, a Graph
#                           token, its WindowsUpdates.ReadWrite.All permission, one catalog read
#                           (exit status 1 if a check fails)
# Production sets DATABASE_URL, GRAPH_MODE=live and the GRAPH_* variables (docs/configuration.md).

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir pip==26.3 build==1.6.1
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m build --wheel --outdir /wheels

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MIGRATIONS_DIR=/srv/migrations \
    DATA_DIR=/srv/.data
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /srv --shell /usr/sbin/nologin app
WORKDIR /srv
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY migrations ./migrations
RUN mkdir -p /srv/.data && chown -R app:app /srv
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
