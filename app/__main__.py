"""Command line: ``python -m app serve|worker|migrate|doctor|new-api-key|export-openapi``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from app.settings import Settings, get_settings, refusal_message

DEFAULT_SPEC_PATH = Path("openapi/openapi.json")
CONFIGURATION_REFUSED = 2


def export_openapi_text() -> str:
    """The service's OpenAPI document as committed to openapi/openapi.json."""
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    get_settings()  # a refused configuration stops here, before uvicorn imports the app
    import app.main  # noqa: F401  (uvicorn finds it imported)
    from app.heap import freeze_startup_heap

    freeze_startup_heap()
    uvicorn.run("app.main:app", host=args.host, port=args.port, proxy_headers=True, log_config=None)
    return 0


def _worker(_: argparse.Namespace) -> int:
    from app.heap import freeze_startup_heap
    from app.jobs.process import main as run_worker

    settings = get_settings()
    freeze_startup_heap()
    return run_worker(settings)


def _migrate(_: argparse.Namespace) -> int:
    from app.embedded_db import start_embedded_postgres
    from app.migrate import upgrade_to_head

    settings = get_settings()
    url = settings.database_url or start_embedded_postgres(settings.data_dir)
    upgrade_to_head(url)
    print("database schema is at head")
    return 0


def _doctor(_: argparse.Namespace) -> int:
    from app.doctor import run_doctor

    return run_doctor()


def _new_api_key(args: argparse.Namespace) -> int:
    from app.auth.api_keys import ApiKeyConfigError, new_api_key

    try:
        key, entry = new_api_key(args.name, args.role)
    except ApiKeyConfigError as exc:
        print(f"new-api-key: {exc}", file=sys.stderr)
        return CONFIGURATION_REFUSED
    print(f"key (give it to {args.name}; it is not stored anywhere): {key}")
    print(f"API_KEYS entry (add it, comma-separated, to API_KEYS): {entry}")
    return 0


def _export_openapi(args: argparse.Namespace) -> int:
    text = export_openapi_text()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)
    commands.add_parser(
        "worker", help="run queued Graph work (operations); API replicas then set RUN_WORKER=false"
    ).set_defaults(run=_worker)
    commands.add_parser("migrate", help="bring the database schema to head").set_defaults(
        run=_migrate
    )
    commands.add_parser(
        "doctor", help="check a configuration before go-live (exit status 1 if a check fails)"
    ).set_defaults(run=_doctor)
    new_key = commands.add_parser(
        "new-api-key", help="make a random API key and print it with its API_KEYS entry"
    )
    new_key.add_argument("--name", required=True, help="who uses it: the audit log's actor")
    new_key.add_argument(
        "--role", required=True, choices=["reader", "operator", "approver", "admin"]
    )
    new_key.set_defaults(run=_new_api_key)
    export = commands.add_parser("export-openapi", help="write the OpenAPI document")
    export.add_argument("--output", default=str(DEFAULT_SPEC_PATH), help="file, or - for stdout")
    export.set_defaults(run=_export_openapi)
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        print(refusal_message(exc), file=sys.stderr)
        return CONFIGURATION_REFUSED
    return result


if __name__ == "__main__":
    raise SystemExit(main())
