"""whether a refused use's reason is about a guardian's consent

A read refused for a consent a parent granted for a child (监护人代为授权) is said in the guardian's words
(监护人已撤回代为授权, 监护人代为授权次数已用完), but its access record kept the reason code alone, and the trail said it
in the holder's (持证人已撤回授权) of the mother's consent for her newborn (left alone in session 53). The record now
keeps whether the consent was a guardian's (``AuditEntry.by_guardian``). The records stored before keep it false, and
hash as they did.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_records") as batch:
        batch.add_column(sa.Column("by_guardian", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("access_records") as batch:
        batch.drop_column("by_guardian")
