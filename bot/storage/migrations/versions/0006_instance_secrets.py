"""instance secrets: the pseudonym key generated once when the operator sets none

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:10:00

Until now the key was derived from the Slack signing secret (or a fixed development key on
a Teams-only instance). Every instance of one deployment reads the same row, so a key made
by the first start is shared by all.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'instance_secrets',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('instance_secrets')
