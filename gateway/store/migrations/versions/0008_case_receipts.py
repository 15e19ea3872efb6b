"""receipts linked to a 一件事 case

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.add_column(sa.Column("bundle_code", sa.String(length=40), nullable=False, server_default=""))
        batch.add_column(sa.Column("case_id", sa.String(length=64), nullable=False, server_default=""))
        batch.create_index("ix_receipts_case", ["bundle_code", "case_id"])


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.drop_index("ix_receipts_case")
        batch.drop_column("case_id")
        batch.drop_column("bundle_code")
