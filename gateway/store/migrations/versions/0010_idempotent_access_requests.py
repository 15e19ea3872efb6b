"""access requests idempotent by the requester's key

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_requests") as batch:
        batch.add_column(sa.Column("client_request_id", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("client_digest", sa.String(length=64), nullable=False, server_default=""))
    op.create_index(
        "ux_access_requests_client",
        "access_requests",
        ["requester", "client_request_id"],
        unique=True,
        sqlite_where=sa.text("client_request_id <> ''"),
        postgresql_where=sa.text("client_request_id <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ux_access_requests_client", table_name="access_requests")
    with op.batch_alter_table("access_requests") as batch:
        batch.drop_column("client_digest")
        batch.drop_column("client_request_id")
