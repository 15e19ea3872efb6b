"""the gateway's memo of the printed form a license was issued under, and the fields a stored document prints

The form a batch-issued license's document is drawn from (0033) was vouched for by nothing but its plain SHA-256: a
form inserted into ``printed_forms`` under its own hash, the license's issue pointed at it, had the gateway draw and
seal a document with any title and labels (a reviewer). Each issue that records a form now records the gateway's memo
of it too (``license_events.form_memo``: an HMAC under the memo secret of the license and the form's hash, ADR 0009);
a form without the memo is not drawn. The issues recorded under 0033 alone have none and are refused as such.

``license_documents.printed``: the keys of the fields a document the gateway drew prints (a JSON list), by which
sharing judges whether a consumer may have it; empty for a supplied document and those stored before, which are
judged by the fields their license holds.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # an empty BLOB on SQLite (not the TEXT '' a plain default leaves, see 0013), an empty bytea on PostgreSQL
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    with op.batch_alter_table("license_events") as batch:
        batch.add_column(sa.Column("form_memo", sa.LargeBinary(), nullable=False, server_default=sa.text(empty)))
    with op.batch_alter_table("license_documents") as batch:
        batch.add_column(sa.Column("printed", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("license_documents") as batch:
        batch.drop_column("printed")
    with op.batch_alter_table("license_events") as batch:
        batch.drop_column("form_memo")
