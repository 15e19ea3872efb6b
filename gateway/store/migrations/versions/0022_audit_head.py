"""the audit chain's head memo

Records deleted from the end of the audit chain left no broken link (finding 2 of a sharing tester): the last
signed checkpoint may be 999 records back. ``audit_head`` holds one row, the newest record's number and hash with
the gateway's HMAC over both under the key store's memo secret (``gateway.domain.audit.HeadMemos``), which every
group of records appended rewrites in its transaction (ADR 0010).

A store with records (or checkpoints) gets a row naming its newest record with an empty memo: the migration has no
key, and ``VerifyAuditLog`` says HEAD_NOT_YET_VOUCHED until the upgrade's ``zzgw init`` writes the memo
(``vouch_upgraded_row``; the first append after the upgrade did, before an auditor's review, ADR 0010). A
new store gets no row.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", _SEQ, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("memo", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # an empty BLOB on SQLite (not the TEXT '' a plain literal leaves, see 0013), an empty bytea on PostgreSQL
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    # the newest record, or the newest checkpoint of a store whose records were all pruned
    op.execute(
        f"INSERT INTO audit_head (id, seq, hash, memo) SELECT 1, seq, hash, {empty} FROM "
        "(SELECT seq, hash FROM access_records UNION ALL SELECT seq, hash FROM audit_checkpoints) AS ends "
        "ORDER BY seq DESC LIMIT 1"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
