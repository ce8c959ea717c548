"""teams personal chats: where the Teams bot can ask a person a follow-up question

Revision ID: 0011_teamsrep
Revises: 0010
Create Date: 2026-12-07 08:00:00

One row per Teams user who consulted the bot in its personal chat, keyed by their keyed
pseudonym: the reflection follow-up goes to that chat (a personal chat's id cannot be
derived from a user's id, and Teams lets a bot post only into a conversation it has).
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_teamsrep'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'teams_personal_chats',
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.String(length=300), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('owner'),
    )


def downgrade() -> None:
    op.drop_table('teams_personal_chats')
