"""an index of the numbers of versions that are no longer current

A number an amendment changed is held by no current version; verifying or claiming it answered "not found" where
the provincial convention answers 3, no longer valid (变更). Partial: only superseded versions are in it, so issuing
(current versions only) pays nothing for it; an amendment adds one entry.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_licenses_retired_number",
        "licenses",
        ["type_code", "license_number"],
        sqlite_where=sa.text("NOT is_current"),
        postgresql_where=sa.text("NOT is_current"),
    )


def downgrade() -> None:
    op.drop_index("ix_licenses_retired_number", table_name="licenses")
