"""reflection follow-ups: one row per finished consultation, and opt-outs

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 03:40:00

`reflections.session_id` references `sessions.id` ON DELETE CASCADE, so retention purges and
the anonymous-report unlinking remove the follow-up and its answer with the consultation.
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reflections',
        sa.Column('session_id', sa.String(length=36), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=160), nullable=True),
        sa.Column('tree_id', sa.String(length=64), nullable=False),
        sa.Column('tree_version', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=64), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('escalation', sa.String(length=16), nullable=False),
        sa.Column('lang', sa.String(length=8), nullable=False),
        sa.Column('reached_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('turned_out', sa.String(length=16), nullable=True),
        sa.Column('same_again', sa.Boolean(), nullable=True),
        sa.Column('learned', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_id'),
    )
    op.create_index('ix_reflections_owner', 'reflections', ['owner'])
    op.create_index('ix_reflections_due', 'reflections', ['status', 'due_at'])
    op.create_table(
        'reflection_optouts',
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('owner'),
    )


def downgrade() -> None:
    op.drop_table('reflection_optouts')
    op.drop_index('ix_reflections_due', table_name='reflections')
    op.drop_index('ix_reflections_owner', table_name='reflections')
    op.drop_table('reflections')
