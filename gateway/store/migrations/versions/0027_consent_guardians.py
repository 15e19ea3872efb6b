"""consents a guardian granted for a minor holder (监护人代为授权)

A parent named on a minor's license (a 出生医学证明's mother or father, the catalog's ``guardian_of_holder``) may
consent for the child: the consent is the child's (``holder_code``), and ``guardian_code`` names the parent who
granted it (empty for the consents a holder granted, every consent before this revision included). The parent's
portal lists and withdraws the consents they granted, through ``ix_consents_guardian``.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("guardian_code", sa.String(length=32), nullable=False, server_default=sa.text("''")))
    op.create_index("ix_consents_guardian", "consents", ["guardian_code", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_consents_guardian", table_name="consents")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("guardian_code")
