"""on SQLite, receipts from before 0009 and licenses from before 0012 get empty BLOBs, not empty TEXT

Migrations 0009 (``receipts.proof``) and 0012 (``licenses.seal_memo``) added their column with the default ``''``,
and SQLite stored that in every existing row as TEXT, not as an empty BLOB. Such a value is not read back as bytes:
``GetReceipt`` of an older receipt failed, and so did loading an older license; nor is it found by
``seal_memo = X''``, so ``zzgw memos`` found nothing to do. Here they become the empty BLOBs the gateway writes. On
PostgreSQL the columns are ``bytea`` and the default was an empty one already: nothing changes there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = (("receipts", "proof"), ("licenses", "seal_memo"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, column in _COLUMNS:
            op.execute(f"UPDATE {table} SET {column} = X'' WHERE typeof({column}) = 'text' AND {column} = ''")


def downgrade() -> None:
    pass  # empty BLOBs are what the gateway writes anyway
