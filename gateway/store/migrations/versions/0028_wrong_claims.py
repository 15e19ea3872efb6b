"""wrong claims, counted per department and license

A claim (``CheckClaim``) confirms what it names without returning it, so a department's wrong claims about one license
are bounded (5 a day): each is a row here, keyed by the license whatever its version. Counted from the audit trail's
index by holder at first, a count that any 2,000 newer records about the holder had reset (found in review).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wrong_claims",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("caller", sa.String(length=18), nullable=False),
        sa.Column("license", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wrong_claims_caller_license", "wrong_claims", ["caller", "license", "at"])


def downgrade() -> None:
    op.drop_index("ix_wrong_claims_caller_license", table_name="wrong_claims")
    op.drop_table("wrong_claims")
