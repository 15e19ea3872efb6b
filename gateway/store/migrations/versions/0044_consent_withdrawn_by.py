"""who withdrew a consent

A consent a parent granted for a child of 14 to 17 is withdrawn by either code (the parent's or the child's), but the
store kept only when, and a read refused after the child withdrew it was said in the guardian's words,
监护人已撤回代为授权 (the guardian withdrew it), to departments and on the trail (review holder, R2). The consent now
keeps the code of who withdrew it (``StoredConsent.withdrawn_by``). The consents withdrawn before keep it empty, and
are said as they were.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("withdrawn_by", sa.String(length=32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("withdrawn_by")
