"""the printed form a license was issued under, for a document drawn later

A batch-issued license's document is drawn the first time it is asked for (ADR 0003). Drawn from the catalog in force
then, it had left off a field taken out of the type since, printed labels renamed since, and could not be drawn once
the type was taken out (a reviewer). An issue whose document is drawn later now records the SHA-256 of its type's
printed form (``gateway.domain.printed_form``) in its event (``license_events.form``), the form itself once in
``printed_forms``; the document is drawn from it. The events stored before keep an empty form, and their licenses'
documents are drawn from the catalog, as they were.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "printed_forms",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("form", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("license_events") as batch:
        batch.add_column(sa.Column("form", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("license_events") as batch:
        batch.drop_column("form")
    op.drop_table("printed_forms")
