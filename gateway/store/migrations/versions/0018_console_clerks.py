"""clerks' own console tokens

A department's clerks shared one console token and typed their own name as the operator of each check, so the
holder's access log named whoever a clerk said they were, and ending one clerk's access meant a new token for all.
A clerk may now have a token of their own (``zzgw console-token USCC --clerk NAME``): the gateway names the
operator from it, and ends it alone.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_clerks",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("member_code", sa.String(18), nullable=False),
        sa.Column("clerk", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_console_clerks_member", "console_clerks", ["member_code", "clerk"])


def downgrade() -> None:
    op.drop_index("ix_console_clerks_member", table_name="console_clerks")
    op.drop_table("console_clerks")
