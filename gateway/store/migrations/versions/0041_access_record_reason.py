"""an access record's reason holds every grant a read relied on

A read let through by several approvals (or an approval and a consent) recorded only the first
(``approval=ID``): the trail could not tell which reads relied on an approval later withdrawn (a reviewer, access
R3). The record now names them all, ``consent=ID;approval=ID1,ID2``, and 64 characters held one identifier: the
column takes 500 (those past it are counted, ``,+N``). The records stored before keep their reason, and hash as they
did. PostgreSQL widens the column in place. SQLite does not enforce a VARCHAR's length (a column of VARCHAR(64)
already holds 500 characters): its table is left as it was, for a rebuild bought nothing and cost minutes and the
file's size again over a province's tens of millions of records (a reviewer, R2).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # the length is not enforced there: nothing to change
        return
    with op.batch_alter_table("access_records") as batch:
        batch.alter_column(
            "reason", existing_type=sa.String(length=64), type_=sa.String(length=500), existing_nullable=False
        )


def downgrade() -> None:
    # refused by PostgreSQL while a record's reason is longer: records are never cut (they would no longer hash)
    if op.get_bind().dialect.name == "sqlite":
        return
    with op.batch_alter_table("access_records") as batch:
        batch.alter_column(
            "reason", existing_type=sa.String(length=500), type_=sa.String(length=64), existing_nullable=False
        )
