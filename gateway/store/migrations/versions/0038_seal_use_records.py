"""the seal and the digests a record of a seal's use names

Every use of a seal (SealDocument, StampDocument) and its registration and revocation is on the audit trail, and the
record names the seal and a digest of the document sent and of what was returned (``AuditEntry.seal_id``,
``document_sha256``, ``result_sha256``): nothing had said which of an issuer's seals sealed which document, for
which clerk (a reviewer, sealplace R2). The records stored before keep them empty, and hash as they did.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_records") as batch:
        batch.add_column(sa.Column("seal_id", sa.String(length=32), nullable=False, server_default=""))
        batch.add_column(sa.Column("document_sha256", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("result_sha256", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("access_records") as batch:
        batch.drop_column("result_sha256")
        batch.drop_column("document_sha256")
        batch.drop_column("seal_id")
