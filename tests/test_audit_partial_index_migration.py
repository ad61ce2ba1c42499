"""Migration 0014 rebuilds the audit log's lookup indexes as partial ones without holding back
writes (CONCURRENTLY), keeps the events' lookups, runs again over what a cut-short build left,
and goes down to whole indexes."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, create_engine, text

from app.migrate import alembic_config
from tests.api.test_audit_indexes import PARTIAL
from tests.db_server import fresh_database


def predicates(connection: Connection) -> dict[str, tuple[str | None, bool]]:
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid), i.indisvalid FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'audit_events'::regclass"
        )
    )
    return {name: (where, valid) for name, where, valid in rows.all()}


def test_0014_replaces_the_indexes_even_after_a_cut_short_build_and_goes_down_again() -> None:
    with fresh_database() as url:
        config = alembic_config(url)
        command.upgrade(config, "0013")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_events (actor, action, outcome, graph_request_ids,"
                    " device_ids, detail) VALUES ('before', 'test.before', 'succeeded', '{}',"
                    " ARRAY['device-1'], '{}')"
                )
            )
            # What a run stopped halfway leaves: a build under the temporary name.
            connection.execute(text("CREATE INDEX ix_audit_events_at_new ON audit_events (at)"))
            before = predicates(connection)
        assert {name for name, (where, _) in before.items() if where} == set()

        command.upgrade(config, "0014")
        with engine.connect() as connection:
            after = predicates(connection)
            found = connection.execute(
                text(
                    "SELECT actor FROM audit_events"
                    " WHERE device_ids @> ARRAY['device-1']::varchar[]"
                )
            ).scalars()
            assert list(found) == ["before"]
        assert set(after) == set(before) - {"ix_audit_events_at_new"}
        assert {name for name, (where, _) in after.items() if where == "(seq IS NOT NULL)"} == (
            PARTIAL
        )
        assert all(valid for _, valid in after.values())

        command.downgrade(config, "0013")
        with engine.connect() as connection:
            down = predicates(connection)
        assert set(down) == set(after)
        assert all(where is None and valid for where, valid in down.values())
        engine.dispose()
