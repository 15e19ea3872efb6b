"""facts about the authorities a store was made with, for replicas to be checked against

A replica whose data directory lacks the memo secret, the seal-maker CA or the member CA would make its own at
`zzgw init` while the store has no memos, seals or certified members yet: two replicas then disagree for good (each
reports the other's memos STATUS_ALTERED). The store keeps a fingerprint of each (never the secret itself), and
init and serve compare theirs with it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_facts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_facts")
