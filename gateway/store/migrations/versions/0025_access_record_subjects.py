"""the co-subjects an access record names

A license states the 公民身份号码 of people who are not its holder (a 结婚证 the wife's, a 出生医学证明 the
parents'), and the audit trail listed its uses only under the holder's code: those people never saw who read their
data (a data-protection tester's finding). ``access_record_subjects`` holds, for each record written from now on,
the co-subjects it names (``gateway.domain.audit.AuditEntry.subjects``, covered by the record's hash), keyed by the
person and the record's number so that a person's records are one index range.

Records written before are left as they are: their hashes cover no co-subjects, and rows added for them would make
every one of them a HASH_MISMATCH. They stay listed to their holders only.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_record_subjects",
        sa.Column("subject_code", sa.String(length=40), nullable=False),
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("subject_code", "seq"),
    )
    op.create_index("ix_access_record_subjects_seq", "access_record_subjects", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_access_record_subjects_seq", table_name="access_record_subjects")
    op.drop_table("access_record_subjects")
