"""case numbers kept as license numbers are

A 一件事 case is named by ``use.case_id``, which ``check_use`` now keeps in the form of a license number
(``gateway.domain.identifiers.normal_number``: ASCII letters in capitals, no spaces), so that a later department
typing the applicant's slip in another case finds the first department's receipts. Receipts stored before keep
their case number as it was sent: here it is put in that form too (full-width forms, which SQL cannot fold, are
left as they are), so that cases begun before the upgrade are found after it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_LOWER = "abcdefghijklmnopqrstuvwxyz"


def upgrade() -> None:
    # ASCII letters only, as normal_number does: SQLite's upper() is ASCII-only, PostgreSQL's is not; a case number
    # holds no other whitespace than spaces (it is printable)
    sqlite = op.get_bind().dialect.name == "sqlite"
    folded = "upper(case_id)" if sqlite else f"translate(case_id, '{_LOWER}', '{_LOWER.upper()}')"
    op.execute(f"UPDATE receipts SET case_id = replace({folded}, ' ', '') WHERE case_id <> ''")


def downgrade() -> None:
    """Nothing to undo: the old code finds the folded numbers as they are now typed."""
