"""licenses keep the gateway's memo of their status

An HMAC under the key store's memo secret (``signing.record.SealMemos.status``) over the license's identifier,
stored status, its reason and the time it was set: a status changed in the store behind the gateway's back (a
revoked license set ACTIVE again) no longer passes. The record seal covers what the issuer stated, not the status.
Empty here; ``zzgw init`` then gives every existing license the memo of the status it has at the upgrade.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # an empty BLOB on SQLite (not the TEXT '' that 0012's default left, see 0013), an empty bytea on PostgreSQL
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("status_memo", sa.LargeBinary(), nullable=False, server_default=sa.text(empty)))


def downgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.drop_column("status_memo")
