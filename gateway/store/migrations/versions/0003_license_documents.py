"""license documents: the sealed PDF of each license version

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "license_documents",
        sa.Column("license_id", sa.String(length=120), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("seal_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("license_id"),
    )
    op.create_index("ix_license_documents_sha256", "license_documents", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_license_documents_sha256", table_name="license_documents")
    op.drop_table("license_documents")
