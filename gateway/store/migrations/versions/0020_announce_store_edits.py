"""every change to a license or a seal in the store announces itself, whoever made it

Caches were dropped only when the gateway itself changed a license or a seal (``gateway.store.changes``). A row
changed behind the gateway's back (a DBA's ``UPDATE`` or ``DELETE`` in psql or the sqlite3 shell) was not
announced: a license checked before kept passing from the cache until a restart. Triggers now announce every
``UPDATE`` and ``DELETE`` of ``licenses`` and ``seals`` (an ``INSERT`` changes nothing a cache holds):

- PostgreSQL: ``pg_notify('zzgw_changes', 'license:<license_id>')`` (``seal:<key_id>``) for each row, the old key
  and, if an update changed it, the new one; a ``TRUNCATE`` announces everything (``*``). Delivered at commit, like
  the gateway's own announcements (identical notifications of one transaction are sent once).
- SQLite: the key goes into ``store_edits``, which every gateway process reads every quarter of a second
  (``ChangeFeed``); its rows are pruned after a few minutes. The table exists on PostgreSQL too (the models
  describe one schema) and stays empty there.

SQLite drops a table's triggers with the table: a later migration that rebuilds ``licenses`` or ``seals`` with
``batch_alter_table`` must make these triggers again (``tests/test_coherence_out_of_band.py`` checks they exist).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TABLES = (("licenses", "license", "license_id"), ("seals", "seal", "key_id"))
"""Each table with its key's prefix and the column that names the key (``gateway.store.changes``)."""

_PG_FUNCTION = """
CREATE FUNCTION zzgw_announce_store_edit() RETURNS trigger LANGUAGE plpgsql AS $$
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


def upgrade() -> None:
    op.create_table(
        "store_edits",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,  # a seq is never used again, even after every row was pruned
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table, _, _ in _TABLES:
            op.execute(
                f"CREATE TRIGGER zzgw_{table}_edited AFTER UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION zzgw_announce_store_edit()"
            )
            op.execute(
                f"CREATE TRIGGER zzgw_{table}_truncated AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION zzgw_announce_store_edit()"
            )
    else:
        for table, prefix, column in _TABLES:
            op.execute(
                f"CREATE TRIGGER zzgw_{table}_updated AFTER UPDATE ON {table} BEGIN "
                f"INSERT INTO store_edits (key) VALUES ('{prefix}:' || OLD.{column}); "
                f"INSERT INTO store_edits (key) SELECT '{prefix}:' || NEW.{column} "
                f"WHERE NEW.{column} IS NOT OLD.{column}; "
                "END"
            )
            op.execute(
                f"CREATE TRIGGER zzgw_{table}_deleted AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO store_edits (key) VALUES ('{prefix}:' || OLD.{column}); "
                "END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _, _ in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_truncated ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_edited ON {table}")
        op.execute("DROP FUNCTION IF EXISTS zzgw_announce_store_edit()")
    else:
        for table, _, _ in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_deleted")
            op.execute(f"DROP TRIGGER IF EXISTS zzgw_{table}_updated")
    op.drop_table("store_edits")
