"""consents idempotent by the portal's key, their code kept sealed for a retry

A holder portal whose GrantConsent answer was lost (a timeout, a dropped connection) had no way to learn the code of
the consent it had made: the code is stored only as its SHA-256. With a ``client_request_id``, the code is also kept
encrypted under the key store's secret for 24 hours (``code_sealed``), so that a retry gets the same consent and code;
after that it is cleared.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("client_request_id", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("client_digest", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("code_sealed", sa.LargeBinary(), nullable=True))
    op.create_index(
        "ux_consents_client",
        "consents",
        ["portal", "client_request_id"],
        unique=True,
        sqlite_where=sa.text("client_request_id <> ''"),
        postgresql_where=sa.text("client_request_id <> ''"),
    )
    op.create_index(
        "ix_consents_code_sealed",
        "consents",
        ["created_at"],
        sqlite_where=sa.text("code_sealed IS NOT NULL"),
        postgresql_where=sa.text("code_sealed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_consents_code_sealed", table_name="consents")
    op.drop_index("ux_consents_client", table_name="consents")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("code_sealed")
        batch.drop_column("client_digest")
        batch.drop_column("client_request_id")
