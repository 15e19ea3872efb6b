"""the order receipts were committed in, by which a case's receipts are paged

``receipts.seq``: the ``seq`` of the access record stored with the receipt in the same group commit, under the audit
chain's lock, so in the order the receipts were committed. A case's receipts had been paged by ``created_at``, the
check's time, taken before the receipt committed: a receipt committed late (a VerifyDocument of a large PDF, seconds
in validation) sorted before a page already read and was on no later page of that run (a reviewer). Receipts stored
before have none (NULL) and are listed first, by their time, as before; a page token among them is still taken.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.drop_column("seq")
