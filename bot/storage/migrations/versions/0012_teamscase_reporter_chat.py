"""teamscase: a Teams reporter's personal chat leaves the case's card locations

Revision ID: 0012_teamscase_reporter_chat
Revises: 0011_teamsrep
Create Date: 2026-12-07 10:30:00

Until now the desk kept a named or confidential Teams reporter's personal-chat id in the
case's card JSON (key `teams-reporter`), a column shown to and used by the desk, which tied
the reporter to the case in a place not meant for identities. The chat now lives in
`teams_personal_chats` under the reporter's keyed pseudonym. This moves each stored chat
there (unless a newer one is already kept for that person) and strips the key from every
case. An anonymous case never had one; if it somehow does, it is stripped and not moved.

The pseudonym key is the one the application uses: ETHICSBOT_SECRET_KEY from the
environment, else the key generated once and stored in `instance_secrets`. With neither
(the bot never ran with a key) nothing can be moved: the key is stripped anyway, and the
reporter reads compliance's questions with `status` until their next visit records the chat.
Portable SQL only (SQLite and PostgreSQL). The downgrade cannot put identities back.
"""

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0012_teamscase_reporter_chat'
down_revision = '0011_teamsrep'
branch_labels = None
depends_on = None

LEGACY = 'teams-reporter'

cases = sa.table(
    'cases',
    sa.column('id', sa.String),
    sa.column('mode', sa.String),
    sa.column('reporter', sa.String),
    sa.column('card', sa.Text),
)
chats = sa.table(
    'teams_personal_chats',
    sa.column('owner', sa.String),
    sa.column('conversation_id', sa.String),
    sa.column('updated_at', sa.DateTime(timezone=True)),
)
secrets_table = sa.table('instance_secrets', sa.column('name', sa.String), sa.column('value', sa.Text))


def _pseudonymizer(conn: sa.Connection):  # type: ignore[no-untyped-def]
    """bot/identity.py's pseudonym, frozen here as of this revision (a migration must not
    change meaning when the application's code does later)."""
    base = os.environ.get('ETHICSBOT_SECRET_KEY', '')
    if not base:
        base = conn.execute(
            sa.select(secrets_table.c.value).where(secrets_table.c.name == 'pseudonym_key')
        ).scalar() or ''
    if not base:
        return None
    key = hashlib.sha256(b'ethicsbot-pseudonym-v1:' + base.encode()).digest()
    return lambda identity: 'p:' + hmac.new(key, identity.encode(), hashlib.sha256).hexdigest()[:40]


def upgrade() -> None:
    conn = op.get_bind()
    found = conn.execute(
        sa.select(cases.c.id, cases.c.mode, cases.c.reporter, cases.c.card).where(
            cases.c.card.like('%' + LEGACY + '%')
        )
    ).all()
    if not found:
        return
    who = _pseudonymizer(conn)
    now = datetime.now(UTC)
    for case_id, mode, reporter, card in found:
        try:
            where = json.loads(card)
        except ValueError:
            continue
        if not isinstance(where, dict) or LEGACY not in where:
            continue
        chat = str((where.pop(LEGACY) or {}).get('conversation') or '')[:300]
        if who is not None and chat and mode != 'anonymous' and (reporter or '').startswith('teams:'):
            owner = who(reporter)
            kept = conn.execute(
                sa.select(chats.c.owner).where(chats.c.owner == owner)
            ).first()
            if kept is None:  # a chat recorded since (a consultation click) is as new or newer
                conn.execute(
                    chats.insert().values(owner=owner, conversation_id=chat, updated_at=now)
                )
        conn.execute(cases.update().where(cases.c.id == case_id).values(card=json.dumps(where)))


def downgrade() -> None:
    # the chats stay where they are: putting a reporter's chat back beside the case's card
    # locations is what this revision exists to undo
    pass
