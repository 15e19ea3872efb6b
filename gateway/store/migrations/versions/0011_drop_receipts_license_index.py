"""drop the receipts' license index

No query reads receipts by license (they are read by id, and by bundle and case), and its random-order inserts
cost every verification's group commit a page of its own: about a third of the WAL a verification wrote on SQLite
(benchmarks.verify; ADR 0005).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_receipts_license", table_name="receipts")


def downgrade() -> None:
    op.create_index("ix_receipts_license", "receipts", ["license_id"], unique=False)
