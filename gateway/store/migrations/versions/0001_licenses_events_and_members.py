"""licenses, events and members

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 22:32:59.022729
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('license_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('license_id', sa.String(length=120), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('previous_license_id', sa.String(length=120), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=18), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('request_digest', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('actor', 'request_id', name='uq_license_events_request')
    )
    with op.batch_alter_table('license_events', schema=None) as batch_op:
        batch_op.create_index('ix_license_events_license', ['license_id'], unique=False)

    op.create_table('licenses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('license_id', sa.String(length=120), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('type_code', sa.String(length=21), nullable=False),
    sa.Column('issuer_code', sa.String(length=18), nullable=False),
    sa.Column('license_number', sa.String(length=64), nullable=False),
    sa.Column('holder_name', sa.String(length=200), nullable=False),
    sa.Column('holder_code_type', sa.String(length=3), nullable=False),
    sa.Column('holder_code', sa.String(length=32), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('supersedes', sa.String(length=120), nullable=False),
    sa.Column('superseded_by', sa.String(length=120), nullable=False),
    sa.Column('seal_algorithm', sa.String(length=32), nullable=False),
    sa.Column('seal_key_id', sa.String(length=64), nullable=False),
    sa.Column('seal_encoding', sa.String(length=32), nullable=False),
    sa.Column('seal_signature', sa.LargeBinary(), nullable=False),
    sa.Column('seal_digest', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('license_id')
    )
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.create_index('ix_licenses_holder', ['holder_code_type', 'holder_code'], unique=False)
        batch_op.create_index('ix_licenses_serial', ['issuer_code', 'type_code', 'serial'], unique=False)
        batch_op.create_index('uq_licenses_current_number', ['type_code', 'license_number'], unique=True, sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))

    op.create_table('members',
    sa.Column('code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('roles', sa.String(length=200), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=True),
    sa.Column('cert_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code'),
    sa.UniqueConstraint('cert_sha256'),
    sa.UniqueConstraint('token_sha256')
    )


def downgrade() -> None:
    op.drop_table('members')
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_index('uq_licenses_current_number', sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
        batch_op.drop_index('ix_licenses_serial')
        batch_op.drop_index('ix_licenses_holder')

    op.drop_table('licenses')
    with op.batch_alter_table('license_events', schema=None) as batch_op:
        batch_op.drop_index('ix_license_events_license')

    op.drop_table('license_events')
