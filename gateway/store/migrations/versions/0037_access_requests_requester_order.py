"""an index in the order a consumer's own access requests are listed

``ix_access_requests_requester_seq`` (requester, seq): ListAccessRequests' SUBMITTED view reads the caller's requests
newest first, a page at a time from where the last ended (``AccessRequestRepository.page``). With only
``ix_access_requests_requester`` (requester, matter_code), every page read and sorted all the requests the consumer
ever made: 1 s a page at 200,000 on SQLite, 0.2-0.3 s on PostgreSQL, where the issuer's queue, in its index
(issuer_code, seq), took 0.01-0.02 s (a reviewer, R2). ``ix_access_requests_requester`` stays, for the sharing
policy's read of a requester's decided requests for a matter (``AccessRequestRepository.decided_for``).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_access_requests_requester_seq", "access_requests", ["requester", "seq"])


def downgrade() -> None:
    op.drop_index("ix_access_requests_requester_seq", table_name="access_requests")
