"""a random tag per change event, carried in its cursor

A ``WatchLicenseChanges`` cursor was the event's number alone. After a restore from a backup the numbers past the
copy are given again (or skipped, where pg_dump read the sequence ahead of its snapshot), so a subscriber's cursor of
a lost event was taken as a position in the restored store's events, and the stream left out every new event up to
that number without an error; a cursor of another store's was taken the same way (a DR drill). Each event now gets
16 random hexadecimal digits, written with it and never changed, and its cursor is ``SEQ.TAG``: a cursor is taken only
when the store holds its event, with its tag (ADR 0015). The events stored before keep an empty tag, and their cursor
is their number, as it was.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("license_events") as batch:
        batch.add_column(sa.Column("tag", sa.String(length=16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("license_events") as batch:
        batch.drop_column("tag")
