"""an index in the order a case's receipts are listed

``ix_receipts_case_order`` (bundle_code, case_id, seq, created_at, receipt_id), the order ``ReceiptRepository.of_case``
reads a case's receipts in, replaces ``ix_receipts_case`` (bundle_code, case_id), of which it is a prefix. With no
index on ``seq`` (schema 0035) every read of a case's receipts read and sorted all of them, and a page of a case with
100,000 receipts another department's listing reads past (naming no license, of other types) had taken 6-8 s on
SQLite, 15-17 s on PostgreSQL (a reviewer): now each read goes on from where the last stopped, in the index.

The order lists receipts stored before 0035 (no ``seq``) first: ``NULLS FIRST``, which is SQLite's ascending order
already, and which SQLite does not take in an index; PostgreSQL's ascending order puts them last, so its index says so.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = "seq NULLS FIRST" if op.get_bind().dialect.name == "postgresql" else "seq"
    op.create_index(
        "ix_receipts_case_order", "receipts", ["bundle_code", "case_id", sa.text(seq), "created_at", "receipt_id"]
    )
    op.drop_index("ix_receipts_case", table_name="receipts")


def downgrade() -> None:
    op.create_index("ix_receipts_case", "receipts", ["bundle_code", "case_id"])
    op.drop_index("ix_receipts_case_order", table_name="receipts")
