"""verification receipts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("caller", sa.String(length=18), nullable=False),
        sa.Column("matter_code", sa.String(length=40), nullable=False),
        sa.Column("license_id", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("receipt_id"),
    )
    op.create_index("ix_receipts_license", "receipts", ["license_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipts_license", table_name="receipts")
    op.drop_table("receipts")
