"""members' revocation

``zzgw members --revoke`` took a member's credentials, but the next ``zzgw init`` registered its client
certificate again (and ``--rotate-tokens`` gave it a new token) while the members file still listed it. The time
of the revocation is kept now: init leaves a revoked member without credentials until ``zzgw members --restore``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_column("revoked_at")
