"""approvals record which of their fields they were given unmasked

An access request recorded the fields approved (``approved_fields``) but not which of them the matter's material
showed in full when the issuer approved them: a catalog adopted later that named one in the material's
``full_fields`` let the same approval read it unmasked, which the issuer never approved (a reviewer, access R1), where
a consent keeps it masked (0039). ``approved_full_fields`` records, at the approval, those of ``approved_fields`` the
material named in ``full_fields`` then: ``["<field>", ...]``.

NULL for a request not approved, and for the approvals given before this revision: ``zzgw init``'s upgrade records
theirs from the catalog it holds, as it records the consents' fields across 0039 (``gateway.server.UpgradeSteps``);
one it could not (an upgrade with no catalog at hand) reads what the matter's material in force lists, as before.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_requests") as batch:
        batch.add_column(sa.Column("approved_full_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_requests") as batch:
        batch.drop_column("approved_full_fields")
