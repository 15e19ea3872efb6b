"""every certificate the gateway's receipt key has had

A receipt is checked with the certificate whose key signed it. The gateway handed out every stored receipt with its
current certificate, so after a new receipt certificate (a renewal, a new key) every earlier receipt fetched from it
failed its offline check, and so did the audit checkpoints signed before. The store now keeps each certificate the
receipt key has had (a renewal keeps the key: a receipt is then handed out with the certificate that was valid
when it was issued), recorded when a gateway starts with it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_certificates",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("receipt_certificates")
