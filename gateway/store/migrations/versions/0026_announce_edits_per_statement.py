"""PostgreSQL: a statement that changes licenses or seals announces itself once, not once per row

Migration 0020's triggers sent one NOTIFY per row changed. A mass UPDATE (a DBA's, a backfill of a province's
licenses) queued hundreds of thousands of notifications, and every gateway process heard them one by one: a
revocation committed after it was heard only after all of them (1.2 s after its commit behind 400,000 rows, in an
idle process; found in review). The triggers now fire once per statement and read the rows it changed from its
transition tables:

- ``UPDATE`` of at most ``_KEYS_MOST`` rows: their keys, old and new (``license:<license_id>``, ``seal:<key_id>``),
  each once, in as few notifications of at most ``_PAYLOAD_MOST`` bytes as they fit in (a real license key,
  ``license:1.2.156.3005.2.<type>.<issuer>.<serial>.001.O``, is about 80 bytes: about 85 keys a notification);
- ``UPDATE`` of more rows: ``*``, everything, one notification;
- ``DELETE`` and ``TRUNCATE``: ``*`` (the gateway never deletes a license or a seal: a deletion is a DBA's rare act,
  and PostgreSQL cannot give one trigger the transition tables of two events).

So a statement sends a bounded number of notifications, whatever it changed: an UPDATE of 500 licenses that keeps
their keys about 6, one that changes them (old and new keys: 1,000) about 12, anything larger one. (This docstring
first said "at most three": true of the test's short keys only; corrected in review.) The trigger names stay those
of 0020 (``zzgw_<table>_edited`` for UPDATE, ``zzgw_<table>_truncated`` for DELETE and TRUNCATE), and so does the
function.
SQLite is unchanged: its triggers write ``store_edits``, and a reader drops everything past 500 new rows.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_TABLES = (("licenses", "license", "license_id"), ("seals", "seal", "key_id"))
_KEYS_MOST = 500
"""Rows one UPDATE may change and still be announced by key; more announce everything."""
_PAYLOAD_MOST = 7_000
"""Bytes of one notification's keys (PostgreSQL's limit is 8,000; ``gateway.store.changes._MAX_PAYLOAD``)."""


def _announce_keys(prefix: str, column: str) -> str:
    return f"""
        FOR k IN
            SELECT '{prefix}:' || {column} FROM old_rows UNION SELECT '{prefix}:' || {column} FROM new_rows
        LOOP
            IF payload <> '' AND octet_length(payload) + octet_length(k) + 1 > {_PAYLOAD_MOST} THEN
                PERFORM pg_notify('zzgw_changes', payload);
                payload := '';
            END IF;
            payload := CASE WHEN payload = '' THEN k ELSE payload || ',' || k END;
        END LOOP;"""


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION zzgw_announce_store_edit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text := '';
    k text;
BEGIN
    IF TG_OP <> 'UPDATE' THEN  -- DELETE, TRUNCATE
        PERFORM pg_notify('zzgw_changes', '*');
        RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM (SELECT FROM old_rows LIMIT {_KEYS_MOST + 1}) AS some_rows) > {_KEYS_MOST} THEN
        PERFORM pg_notify('zzgw_changes', '*');
        RETURN NULL;
    END IF;
    -- each branch is planned only when it runs: the other table's column is never looked up
    IF TG_TABLE_NAME = 'licenses' THEN{_announce_keys("license", "license_id")}
    ELSE{_announce_keys("seal", "key_id")}
    END IF;
    IF payload <> '' THEN  -- an UPDATE that changed no row announces nothing
        PERFORM pg_notify('zzgw_changes', payload);
    END IF;
    RETURN NULL;
END
$$
"""

_PG_FUNCTION_0020 = """
CREATE OR REPLACE FUNCTION zzgw_announce_store_edit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key text;
    new_key text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('zzgw_changes', '*');
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'licenses' THEN
        old_key := 'license:' || OLD.license_id;
        IF TG_OP = 'UPDATE' THEN
            new_key := 'license:' || NEW.license_id;
        END IF;
    ELSE
        old_key := 'seal:' || OLD.key_id;
        IF TG_OP = 'UPDATE' THEN
            new_key := 'seal:' || NEW.key_id;
        END IF;
    END IF;
    IF new_key IS NULL OR new_key = old_key THEN
        PERFORM pg_notify('zzgw_changes', old_key);
    ELSE
        PERFORM pg_notify('zzgw_changes', old_key || ',' || new_key);
    END IF;
    RETURN NULL;
END
$$
"""
"""Migration 0020's function, word for word: what a downgrade restores."""


def _drop_triggers() -> None:
    for table, _, _ in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_truncated ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_edited ON {table}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_triggers()
    op.execute(_PG_FUNCTION)
    for table, _, _ in _TABLES:
        op.execute(
            f"CREATE TRIGGER zzgw_{table}_edited AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION zzgw_announce_store_edit()"
        )
        op.execute(
            f"CREATE TRIGGER zzgw_{table}_truncated AFTER DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION zzgw_announce_store_edit()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_triggers()
    op.execute(_PG_FUNCTION_0020)
    for table, _, _ in _TABLES:
        op.execute(
            f"CREATE TRIGGER zzgw_{table}_edited AFTER UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION zzgw_announce_store_edit()"
        )
        op.execute(
            f"CREATE TRIGGER zzgw_{table}_truncated AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION zzgw_announce_store_edit()"
        )
