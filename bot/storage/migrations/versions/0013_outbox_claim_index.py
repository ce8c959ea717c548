"""outbox: an index for the claim, so a worker's tick reads the pending rows only

Revision ID: 0013_outbox_claim_index
Revises: 0012_teamscase_reporter_chat
Create Date: 2026-12-08 01:00:00

Every worker tick (each second, on every instance) asks for the oldest pending rows of its
platform: `platform = ? AND status = 'pending' ... ORDER BY id LIMIT 10`. With only the
single-column indexes, SQLite chose `ix_outbox_platform` and walked every row of the
platform, sent ones included, which are kept 30 days: the tick's cost grew with the
outbox's history. On (platform, status, id) both equalities and the order come from the
index, and the walk stops at the tenth due row.
"""

from alembic import op

revision = '0013_outbox_claim_index'
down_revision = '0012_teamscase_reporter_chat'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: a database whose schema is newer than its stamp (restored or
    # re-stamped by hand) migrates anyway
    op.create_index('ix_outbox_claim', 'outbox', ['platform', 'status', 'id'], if_not_exists=True)


def downgrade() -> None:
    op.drop_index('ix_outbox_claim', table_name='outbox', if_exists=True)
