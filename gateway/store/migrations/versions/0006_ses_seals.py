"""GB/T 38540 seals: the SES_Seal of an SM2 seal

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seals") as batch:
        batch.add_column(sa.Column("ses_seal", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seals") as batch:
        batch.drop_column("ses_seal")
