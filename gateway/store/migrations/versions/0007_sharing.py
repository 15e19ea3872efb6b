"""sharing and authorisation: access requests (有条件共享申请) and holder consents (用证码)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("requester", sa.String(length=18), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("license_id", sa.String(length=120), nullable=False),
        sa.Column("matter_code", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_fields", sa.JSON(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_access_requests_issuer", "access_requests", ["issuer_code", "seq"])
    op.create_index("ix_access_requests_requester", "access_requests", ["requester", "matter_code"])
    op.create_index("ix_access_requests_pending", "access_requests", ["state", "deadline"])
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("holder_code", sa.String(length=32), nullable=False),
        sa.Column("portal", sa.String(length=18), nullable=False),
        sa.Column("grantee", sa.String(length=18), nullable=False),
        sa.Column("matter_code", sa.String(length=40), nullable=False),
        sa.Column("license_ids", sa.JSON(), nullable=False),
        sa.Column("type_codes", sa.JSON(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uses_allowed", sa.Integer(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consent_id"),
        sa.UniqueConstraint("code_sha256"),
    )
    op.create_index("ix_consents_holder", "consents", ["holder_code", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_consents_holder", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_access_requests_pending", table_name="access_requests")
    op.drop_index("ix_access_requests_requester", table_name="access_requests")
    op.drop_index("ix_access_requests_issuer", table_name="access_requests")
    op.drop_table("access_requests")
