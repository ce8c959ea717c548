"""identities carry their platform; a case card has one location per desk platform

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:40:00

Officer ids (`cases.assignee`, `cases.excluded`, `case_events.actor`,
`exercise_schedules.created_by`) were bare Slack ids; they become `slack:U…` so that a Teams
officer (`teams:<Entra object id>`) can never be checked against Slack's role list. The card
location `{"channel", "ts"}` becomes `{"slack": {"channel", "ts"}}` so a bank on both
platforms keeps one location per desk. The hash-chained audit log is left as written: its
entries are evidence and must verify as they were sealed.
"""

import json

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

cases = sa.table(
    'cases',
    sa.column('id', sa.String),
    sa.column('assignee', sa.String),
    sa.column('excluded', sa.Text),
    sa.column('card', sa.Text),
)
events = sa.table('case_events', sa.column('id', sa.Integer), sa.column('actor', sa.String))
schedules = sa.table(
    'exercise_schedules', sa.column('id', sa.String), sa.column('created_by', sa.String)
)


def _q(user: str | None) -> str | None:
    if not user or ':' in user:
        return user
    return f'slack:{user}'


def _bare(identity: str | None) -> str | None:
    if identity and identity.startswith('slack:'):
        return identity.split(':')[-1]
    return identity


def _migrate(forward: bool) -> None:
    conn = op.get_bind()
    fix = _q if forward else _bare
    for row in conn.execute(sa.select(cases.c.id, cases.c.assignee, cases.c.excluded, cases.c.card)):
        excluded = [fix(x) for x in json.loads(row.excluded or '[]')]
        card = json.loads(row.card) if row.card else None
        if card is not None:
            if forward and 'ts' in card:
                card = {'slack': card}
            elif not forward:
                card = card.get('slack')
        conn.execute(
            cases.update()
            .where(cases.c.id == row.id)
            .values(
                assignee=fix(row.assignee),
                excluded=json.dumps(sorted(excluded)),
                card=json.dumps(card) if card else None,
            )
        )
    for ev in conn.execute(sa.select(events.c.id, events.c.actor).where(events.c.actor.is_not(None))):
        conn.execute(events.update().where(events.c.id == ev.id).values(actor=fix(ev.actor)))
    for sch in conn.execute(sa.select(schedules.c.id, schedules.c.created_by)):
        conn.execute(
            schedules.update()
            .where(schedules.c.id == sch.id)
            .values(created_by=fix(sch.created_by))
        )


def upgrade() -> None:
    _migrate(forward=True)


def downgrade() -> None:
    _migrate(forward=False)
