"""receipts signed a batch at a time: each keeps its inclusion proof

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        # empty for receipts signed one by one (zzgw-receipt/1)
        batch.add_column(sa.Column("proof", sa.LargeBinary(), nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.drop_column("proof")
