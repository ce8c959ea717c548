"""teams conversation references: where the Teams bot can post proactively

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:40:00

One row per Teams conversation the app was installed in or spoken to in (personal chat,
channel, group chat), refreshed on every activity; exercises and the case desk post there.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'teams_conversations',
        sa.Column('conversation_id', sa.String(length=300), nullable=False),
        sa.Column('service_url', sa.String(length=500), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('team_id', sa.String(length=300), nullable=False),
        sa.Column('bot_id', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('conversation_id'),
    )


def downgrade() -> None:
    op.drop_table('teams_conversations')
