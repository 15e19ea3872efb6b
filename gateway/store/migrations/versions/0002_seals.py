"""seals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:02:15.333469
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seals',
    sa.Column('seal_id', sa.String(length=32), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('algorithm', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('key_ref', sa.String(length=200), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('certificate_serial', sa.String(length=64), nullable=False),
    sa.Column('image_png', sa.LargeBinary(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=500), nullable=False),
    sa.Column('crl_reason', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seal_id'),
    sa.UniqueConstraint('certificate_serial'),
    sa.UniqueConstraint('issuer_code', 'request_id', name='uq_seals_request')
    )
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.create_index('ix_seals_issuer', ['issuer_code'], unique=False)
        batch_op.create_index('ix_seals_key', ['key_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('seals', schema=None) as batch_op:
        batch_op.drop_index('ix_seals_key')
        batch_op.drop_index('ix_seals_issuer')

    op.drop_table('seals')
