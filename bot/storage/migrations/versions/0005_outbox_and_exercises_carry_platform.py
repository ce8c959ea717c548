"""outbox rows, exercise schedules and posts carry their platform

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:50:00

Every row written before this revision was for Slack, the only platform then.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('platform', sa.String(length=16), nullable=False, server_default='slack')
        )
        batch_op.create_index(batch_op.f('ix_outbox_platform'), ['platform'], unique=False)
    for table in ('exercise_schedules', 'exercise_posts'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('platform', sa.String(length=16), nullable=False, server_default='slack')
            )


def downgrade() -> None:
    for table in ('exercise_posts', 'exercise_schedules'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('platform')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_platform'))
        batch_op.drop_column('platform')
