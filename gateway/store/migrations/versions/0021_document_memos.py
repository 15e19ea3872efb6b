"""license documents keep the gateway's memo of which license they are

``VerifyDocument`` finds a license by its document's hash in ``license_documents``; a row moved to another license
in the store (the genuine PDF of a revoked license then answering as another, active one) went unnoticed. An HMAC
under the key store's memo secret (``signing.record.SealMemos.document``) over the license identifier, the PDF's
hash, the seal and the time it was sealed now vouches for each row. Empty here; ``zzgw init`` then gives every
existing document the memo of the row it finds at the upgrade, as 0014 did for statuses.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # an empty BLOB on SQLite (not the TEXT '' a plain default leaves, see 0013), an empty bytea on PostgreSQL
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    with op.batch_alter_table("license_documents") as batch:
        batch.add_column(sa.Column("memo", sa.LargeBinary(), nullable=False, server_default=sa.text(empty)))


def downgrade() -> None:
    with op.batch_alter_table("license_documents") as batch:
        batch.drop_column("memo")
