"""a store that has an audit trail says so: the ``audit-witness`` fact

A store whose calls leave no receipt, consent or access request (seal calls, listings, reads of unconditional data)
had no witness of its audit trail: its records, checkpoints and head row deleted, it read as a new store's, intact,
and the next record was numbered 1 (a reviewer, audittrail R3). The gateway now writes the ``audit-witness`` store
fact with the store's first append ever; this migration writes it for a store that already has a trail (a record, a
checkpoint or a head row), once: a fact already there (a prune's) is kept.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO gateway_facts (name, value) "
        "SELECT 'audit-witness', 'access records stored before schema 0042' "
        "WHERE EXISTS (SELECT 1 FROM access_records) OR EXISTS (SELECT 1 FROM audit_checkpoints) "
        "OR EXISTS (SELECT 1 FROM audit_head) "
        "ON CONFLICT (name) DO NOTHING"
    )


def downgrade() -> None:
    pass  # the fact stays true of the store
