"""a member's previous client certificate, accepted beside its renewal

Renewing a department's client certificate meant revoking the old one first (``zzgw members --revoke``, ``--restore``,
``zzgw init``): the department was locked out from the revocation until the new key had reached it, for a partner
province hours or days (a partner-province tester). ``zzgw members --renew`` now registers a new certificate and
keeps the one before in ``previous_cert_sha256``, accepted as the member's too until ``zzgw members --retire`` (or
``--revoke``) takes it, or it ends.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("previous_cert_sha256", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_members_previous_cert_sha256", ["previous_cert_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_constraint("uq_members_previous_cert_sha256", type_="unique")
        batch.drop_column("previous_cert_sha256")
