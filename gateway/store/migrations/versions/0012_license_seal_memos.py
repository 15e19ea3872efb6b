"""licenses keep the gateway's memo of their record seal

An HMAC under a secret of the gateway's key store (``signing.record.SealMemos``): a check with empty caches that
finds it skips verifying the seal's signature. Empty for licenses stored before: theirs is verified as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("seal_memo", sa.LargeBinary(), nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.drop_column("seal_memo")
