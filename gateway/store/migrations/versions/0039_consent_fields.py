"""consents record what they were granted for

A consent was bound to a matter and to licenses or types, not to what the matter read when it was granted: a catalog
adopted later that added conditional fields to the matter's material, or named a sensitive one in ``full_fields``,
let every consent granted before read them, unmasked where the new catalog said so (a reviewer, R1). ``granted_fields``
records, by license type, the material's conditional fields at the grant and those of them it read in full, as an
access request records its ``approved_fields``: ``{"<type code>": {"fields": [...], "full_fields": [...]}}``.

NULL for the consents granted before this revision: ``zzgw init``'s upgrade records theirs from the catalog the
store's gateways serve when it runs with that catalog (``gateway.server.UpgradeSteps``); one it could not (an upgrade
that adopts another catalog at once) reads what the matter's material in force lists, as before.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("granted_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("granted_fields")
