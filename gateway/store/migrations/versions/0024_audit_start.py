"""the audit chain's start memo

Records deleted from the start of the audit chain, up to a signed checkpoint, left the rest checking as a pruned
chain does (finding 1 of a feeds tester): nothing told a prune from a deletion. ``zzgw audit prune`` now writes a
start memo (row 2 of ``audit_head``: the checkpoint pruned through, with the gateway's HMAC; ADR 0010), and a chain
that does not begin at record 1 must begin where the memo says.

A store pruned before has no memo: here it gets a row naming where its chain begins, with an empty memo (the
migration has no key), which ``zzgw init`` vouches for, once, as the head memo is at its first append. A chain that
begins at record 1, or a new store, gets no row.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    empty = "X''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    # the checkpoint just before the first record left, or the newest one when none is left; none if it begins at 1
    op.execute(
        f"INSERT INTO audit_head (id, seq, hash, memo) SELECT 2, c.seq, c.hash, {empty} FROM audit_checkpoints AS c "
        "WHERE c.seq = COALESCE((SELECT min(seq) - 1 FROM access_records), (SELECT max(seq) FROM audit_checkpoints)) "
        "AND c.seq > 0"
    )


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id = 2")
