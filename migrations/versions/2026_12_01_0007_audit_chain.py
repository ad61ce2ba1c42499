"""Audit events become a hash chain, and append-only for UPDATE, DELETE and TRUNCATE.

Every event gets, when its transaction commits, a place in the chain:

- `seq`: 1, 2, 3, … without gaps, in commit order (not id order: ids are taken when a row is
  inserted, and a transaction can insert a row, then commit after another that inserted later);
- `previous_hash`: the `hash` of the event with `seq - 1` (64 zeros for `seq` 1);
- `hash`: `audit_event_digest(...)`, the SHA-256 (lower-case hex) of the event's canonical text
  `audit_event_canonical(...)`, which covers every column of the event, `seq` and `previous_hash`.

How: a constraint trigger, deferred to COMMIT, locks the one row of `audit_chain_head` (the last
`seq` and `hash` given out), fills the row's three columns and moves the head on. The row lock
is held until the transaction has committed, so `seq` order is commit order: whoever sees
`seq` N also sees every `seq` below N. Taking the lock at COMMIT (not at INSERT) means that
no writer holds it while it waits for anything else, so writers cannot deadlock on it (as
long as no deferred trigger that waits for locks runs after it; there is none). A transaction
that writes events therefore waits, at COMMIT, for the commits of others that wrote events
before it: such commits happen one at a time.

`seq`, `hash` and `previous_hash` cannot be NOT NULL: they are NULL from the INSERT until the
COMMIT of the inserting transaction (invisible to everyone else). A CHECK keeps the three
together (all NULL or none), and a unique index on `seq` serves keyset paging and verification.

Append-only: UPDATE and DELETE of an event, and TRUNCATE, are refused with SQLSTATE 42501
(`insufficient_privilege`). The one UPDATE allowed is the chain trigger's own: from inside
the trigger, on a row whose three chain columns are NULL, setting all three and nothing else.
An INSERT may not set them. `audit_chain_head` refuses DELETE and TRUNCATE, and any UPDATE that
does not come from the chain trigger. These triggers bind the application's own connections
(the service connects as the tables' owner); a superuser can bypass triggers
(`SET session_replication_role = replica`) — the chain is what makes such a change visible to
`GET /v1/audit/verify`. The chain trigger runs as the tables' owner (SECURITY DEFINER): a
deployment can also connect the service as a role granted only SELECT and INSERT on
audit_events (with USAGE on its id sequence) and SELECT on audit_chain_head, so that even
without the triggers it could not change them.

Existing events are chained in id order by this migration (one UPDATE per event, the table
locked meanwhile: 200,000 events took 5 s in a test).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64

# The canonical text of an event: a JSON array, as PostgreSQL prints a jsonb value. The time is
# converted to text first (UTC, microseconds), so that no session setting changes the text.
CANONICAL_FUNCTION = """
CREATE FUNCTION audit_event_canonical(
    id bigint, at timestamptz, actor text, action text, outcome text, rollout_id uuid,
    operation_id uuid, intent_id bigint, ticket text, reason text, request_id text,
    graph_request_ids text[], device_ids text[], detail jsonb, seq bigint, previous_hash text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(
        id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor, action,
        outcome, rollout_id, operation_id, intent_id, ticket, reason, request_id,
        graph_request_ids, device_ids, detail, seq, previous_hash
    )::text
$$
"""

DIGEST_FUNCTION = """
CREATE FUNCTION audit_event_digest(
    id bigint, at timestamptz, actor text, action text, outcome text, rollout_id uuid,
    operation_id uuid, intent_id bigint, ticket text, reason text, request_id text,
    graph_request_ids text[], device_ids text[], detail jsonb, seq bigint, previous_hash text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(audit_event_canonical(
        id, at, actor, action, outcome, rollout_id, operation_id, intent_id, ticket, reason,
        request_id, graph_request_ids, device_ids, detail, seq, previous_hash
    ), 'UTF8')), 'hex')
$$
"""

COMMENTS = (
    "COMMENT ON FUNCTION audit_event_canonical(bigint, timestamptz, text, text, text, uuid, uuid,"
    " bigint, text, text, text, text[], text[], jsonb, bigint, text) IS"
    " 'The canonical text of an audit event: a jsonb array of its columns, at in UTC with"
    " microseconds, then seq and previous_hash (docs/api-guide.md, Audit)'",
    "COMMENT ON FUNCTION audit_event_digest(bigint, timestamptz, text, text, text, uuid, uuid,"
    " bigint, text, text, text, text[], text[], jsonb, bigint, text) IS"
    " 'SHA-256, lower-case hex, of the UTF-8 bytes of audit_event_canonical(...)'",
)

# Runs at COMMIT, once per event the transaction inserted, in insertion order. The first locks
# the head row until the transaction ends; the later ones find the version of the head that the
# previous one wrote by its ctid, kept in a transaction-local setting (reading it by id would
# walk every version this transaction left behind: quadratic in the events of a transaction).
# The head is only missing if someone removed it behind the triggers' back (a test database
# emptied as a superuser): it is then rebuilt from the newest chained event.
# SECURITY DEFINER: the function runs as the tables' owner, so that a deployment may give the
# service's database role INSERT and SELECT on audit_events and nothing more.
CHAIN_FUNCTION = f"""
CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    held text[] := string_to_array(nullif(current_setting('audit_chain.head', true), ''), ' ');
    head_ctid tid;
    head_seq bigint;
    head_hash text;
    next_hash text;
BEGIN
    IF held IS NULL THEN
        SELECT ctid, seq, hash INTO head_ctid, head_seq, head_hash
        FROM audit_chain_head WHERE id = 1 FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO audit_chain_head (id, seq, hash)
            SELECT 1, coalesce(max(seq), 0),
                   coalesce((SELECT hash FROM audit_events WHERE seq IS NOT NULL
                             ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
            FROM audit_events
            ON CONFLICT (id) DO NOTHING;
            SELECT ctid, seq, hash INTO head_ctid, head_seq, head_hash
            FROM audit_chain_head WHERE id = 1 FOR UPDATE;
        END IF;
    ELSE
        head_ctid := held[1]::tid;
        head_seq := held[2]::bigint;
        head_hash := held[3];
    END IF;
    next_hash := audit_event_digest(
        NEW.id, NEW.at, NEW.actor, NEW.action, NEW.outcome, NEW.rollout_id, NEW.operation_id,
        NEW.intent_id, NEW.ticket, NEW.reason, NEW.request_id, NEW.graph_request_ids,
        NEW.device_ids, NEW.detail, head_seq + 1, head_hash);
    UPDATE audit_events SET seq = head_seq + 1, previous_hash = head_hash, hash = next_hash
    WHERE id = NEW.id;
    UPDATE audit_chain_head SET seq = head_seq + 1, hash = next_hash
    WHERE ctid = head_ctid AND id = 1 AND seq = head_seq AND hash = head_hash
    RETURNING ctid INTO head_ctid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head is not where this transaction left it';
    END IF;
    PERFORM set_config(
        'audit_chain.head', concat_ws(' ', head_ctid, head_seq + 1, next_hash), true);
    RETURN NULL;
END;
$$
"""

# Replaces revision 0002's body, which refused every UPDATE and DELETE.
REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unchained audit_events;
BEGIN
    IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1
       AND OLD.seq IS NULL AND OLD.hash IS NULL AND OLD.previous_hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL AND NEW.previous_hash IS NOT NULL THEN
        unchained := NEW;
        unchained.seq := NULL;
        unchained.hash := NULL;
        unchained.previous_hash := NULL;
        IF unchained IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;  -- the chain trigger placing the event in the chain at COMMIT
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

REFUSE_CHAIN_ON_INSERT_FUNCTION = """
CREATE FUNCTION audit_events_refuse_chain_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL OR NEW.previous_hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_events: seq, hash and previous_hash are set at COMMIT, not by INSERT'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$
"""

REFUSE_TRUNCATE_FUNCTION = """
CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: TRUNCATE refused (the audit log is append-only)', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

HEAD_GUARD_FUNCTION = """
CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND NEW.id = OLD.id
       AND NEW.seq = OLD.seq + 1 THEN
        RETURN NEW;  -- the chain trigger moving the head on
    END IF;
    RAISE EXCEPTION 'audit_chain_head is kept by the audit chain trigger: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

TRIGGERS = (
    "CREATE TRIGGER audit_events_refuse_chain_on_insert BEFORE INSERT ON audit_events"
    " FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_chain_on_insert()",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events"
    " FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()",
    "CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_chain()",
    "CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head"
    " FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard()",
    "CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()",
)

# The existing events, chained in id order (the table is locked by this migration's ALTER).
BACKFILL = f"""
DO $$
DECLARE
    event record;
    n bigint := 0;
    previous text := '{GENESIS_HASH}';
    digest text;
BEGIN
    FOR event IN SELECT * FROM audit_events ORDER BY id LOOP
        n := n + 1;
        digest := audit_event_digest(
            event.id, event.at, event.actor, event.action, event.outcome, event.rollout_id,
            event.operation_id, event.intent_id, event.ticket, event.reason, event.request_id,
            event.graph_request_ids, event.device_ids, event.detail, n, previous);
        UPDATE audit_events SET seq = n, previous_hash = previous, hash = digest
        WHERE id = event.id;
        previous := digest;
    END LOOP;
    INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, n, previous);
END;
$$
"""

# Revision 0002's guard, put back by the downgrade.
ORIGINAL_REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    # 0002's trigger refuses every UPDATE, the backfill's too; it comes back below.
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("previous_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute(CANONICAL_FUNCTION)
    op.execute(DIGEST_FUNCTION)
    op.execute(BACKFILL)
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    op.create_check_constraint(
        op.f("ck_audit_events_chain_all_or_none"),
        "audit_events",
        "(seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (previous_hash IS NULL)",
    )
    for statement in (
        CHAIN_FUNCTION,
        REFUSE_CHANGE_FUNCTION,
        REFUSE_CHAIN_ON_INSERT_FUNCTION,
        REFUSE_TRUNCATE_FUNCTION,
        HEAD_GUARD_FUNCTION,
        *TRIGGERS,
        *COMMENTS,
    ):
        op.execute(statement)


def downgrade() -> None:
    for table, trigger in (
        ("audit_chain_head", "audit_chain_head_no_truncate"),
        ("audit_chain_head", "audit_chain_head_guard"),
        ("audit_events", "audit_events_chain"),
        ("audit_events", "audit_events_no_truncate"),
        ("audit_events", "audit_events_append_only"),
        ("audit_events", "audit_events_refuse_chain_on_insert"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "audit_chain_head_guard()",
        "audit_refuse_truncate()",
        "audit_events_refuse_chain_on_insert()",
        "audit_events_chain()",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_constraint(op.f("ck_audit_events_chain_all_or_none"), "audit_events", type_="check")
    op.drop_index("ix_audit_events_seq", table_name="audit_events")
    op.drop_table("audit_chain_head")
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "previous_hash")
    op.drop_column("audit_events", "seq")
    op.execute("DROP FUNCTION audit_event_digest")
    op.execute("DROP FUNCTION audit_event_canonical")
    op.execute(ORIGINAL_REFUSE_CHANGE_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events"
        " FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )
