"""SQLite: a license or a seal row deleted by a REPLACE announces itself too

SQLite's REPLACE conflict resolution (``INSERT OR REPLACE``, ``REPLACE INTO``, ``UPDATE OR REPLACE``, and an
``ON CONFLICT REPLACE`` column) deletes the row the new one conflicts with, and fires no delete trigger for it unless
the connection set ``PRAGMA recursive_triggers`` (off by default, in the sqlite3 shell too). Migration 0020's
triggers (``AFTER UPDATE``, ``AFTER DELETE``) heard none of it: a license checked before kept its cached answer
until a restart, whether its row had been tampered with or put back from a backup (which the log advises for a row
that cannot be read; found in review).

``BEFORE`` triggers now announce, into ``store_edits``, the key of every row such a statement would delete: the row
whose ``license_id`` (``id``), or whose number in force (``type_code``, ``license_number`` where ``is_current``), the
new row takes; for a seal, whose ``seal_id``, ``certificate_serial`` or ``(issuer_code, request_id)`` it takes
(announced by its ``key_id``). The triggers cannot see the statement's conflict resolution: an ``INSERT`` or
``UPDATE`` that conflicts and fails takes its announcement back with it, and one that conflicts and is ignored
(``OR IGNORE``, ``ON CONFLICT DO NOTHING``) announces a row that did not change, which only drops a cache entry.

The gateway's own writes pay one index probe per unique key of each row they insert (nothing is written: a new row
conflicts with none), and its updates of these tables none unless they change a unique key's column (``UPDATE OF``).
A later migration that adds a unique index to ``licenses`` or ``seals`` must make these triggers look at it too
(``tests/test_coherence_out_of_band.py`` checks the unique indexes are the ones named here), and one that rebuilds
either table with ``batch_alter_table`` must make them again, as 0020's.

PostgreSQL is unchanged: it has no REPLACE, and ``INSERT … ON CONFLICT DO UPDATE`` and ``MERGE`` fire its update
triggers.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 23:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

_UNIQUE: dict[str, tuple[str, str, str, tuple[tuple[tuple[str, ...], str], ...]]] = {
    # each table's key prefix, the column naming its key, the rowid that tells another row, and its unique keys (the
    # columns, and a partial index's condition, a boolean column)
    "licenses": (
        "license",
        "license_id",
        "id",
        ((("id",), ""), (("license_id",), ""), (("type_code", "license_number"), "is_current")),
    ),
    "seals": (
        "seal",
        "key_id",
        "rowid",
        ((("seal_id",), ""), (("certificate_serial",), ""), (("issuer_code", "request_id"), "")),
    ),
}
"""Every unique key of the two tables (``gateway.store.models``): a REPLACE deletes the rows the new one shares one
with."""


def _takers(table: str) -> list[str]:
    """One ``SELECT`` per unique key of ``table``: the keys of the rows whose unique key ``NEW`` takes, each one
    index probe."""
    _, key_column, _, keys = _UNIQUE[table]
    selects = []
    for columns, where in keys:
        condition = " AND ".join(f"{c} = NEW.{c}" for c in columns)
        if where:  # a partial index: only if the new row is in it too
            condition = f"NEW.{where} AND {where} AND {condition}"
        selects.append(f"SELECT {key_column} FROM {table} WHERE {condition}")
    return selects


def _trigger(name: str, event: str, table: str, takers: list[str]) -> str:
    prefix, key_column, _, _ = _UNIQUE[table]
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
        f"WHEN {' OR '.join(f'EXISTS ({t})' for t in takers)} BEGIN "
        f"INSERT INTO store_edits (key) SELECT '{prefix}:' || {key_column} FROM ({' UNION '.join(takers)}); "
        "END"
    )


def _triggers() -> dict[str, str]:
    made = {}
    for table, (_, _, rowid, keys) in _UNIQUE.items():
        takers = _takers(table)
        made[f"zzgw_{table}_replaced"] = _trigger(f"zzgw_{table}_replaced", "INSERT", table, takers)
        # an update conflicts only through a key whose column it sets, and never with its own row
        columns = ", ".join(sorted({c for names, where in keys for c in (*names, where) if c}))
        others = [f"{t} AND {rowid} <> OLD.{rowid}" for t in takers]
        name = f"zzgw_{table}_replaced_by_update"
        made[name] = _trigger(name, f"UPDATE OF {columns}", table, others)
    return made


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for sql in _triggers().values():
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
