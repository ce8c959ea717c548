"""Where to write to a Teams user first: their personal chat with the bot, by pseudonym.

Teams lets a bot post proactively only into a conversation it already has with the person,
and a personal chat's id cannot be derived from the user's Entra id, so the chat's id is kept
(`teams_personal_chats`) under the keyed pseudonym of the person (bot/identity.py), never
under their Teams id. Two features read it: the reflection follow-up (bot/adapters/teams/
reflection.py) and compliance's questions to a named or confidential reporter
(desk_delivery.relay_question). An anonymous reporter's chat is never recorded by the desk.
The chat's reference itself (service URL) is stored by references.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, delete

from bot.identity import Pseudonymizer
from bot.storage.db import Database, insert_for
from bot.storage.tables import TeamsPersonalChatRow

if TYPE_CHECKING:
    from bot.bootstrap import Services

KNOWN_MAX = 50_000  # people whose chat this process wrote already (skips a write per click)
_CHATS = cast(Table, TeamsPersonalChatRow.__table__)


@functools.cache
def _upsert(dialect: str) -> Any:
    """The chat's upsert, a Core statement built once per dialect (no ORM Session)."""
    base = insert_for(dialect)(_CHATS).values(
        owner=bindparam("c_owner"),
        conversation_id=bindparam("c_chat"),
        updated_at=bindparam("c_at"),
    )
    return base.on_conflict_do_update(
        index_elements=["owner"],
        set_={
            "conversation_id": base.excluded.conversation_id,
            "updated_at": base.excluded.updated_at,
        },
    )


def personal_chat_of(activity: dict[str, Any]) -> str | None:
    """The personal chat's id, or None for a channel or group chat."""
    conv = activity.get("conversation") or {}
    if (conv.get("conversationType") or "personal") != "personal" or not conv.get("id"):
        return None
    return str(conv["id"])[:300]


class PersonalChats:
    """The personal chat of each Teams user, by pseudonym (one short transaction each, or
    inside the caller's: `remember_on`)."""

    def __init__(self, db: Database, who: Pseudonymizer, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.who = who
        self.clock = clock
        self._known: set[tuple[str, str]] = set()  # (owner, chat) written by this process

    def remember(self, identity: str, chat: str) -> None:
        if self.known(identity, chat):
            return  # a chat's id does not change: one write per person and process
        with self.db.core() as conn:
            self.remember_on(conn, identity, chat)
        self.stored(identity, chat)

    def known(self, identity: str, chat: str) -> bool:
        """This process stored this person's chat already (no write needed)."""
        return (self.who(identity), chat) in self._known

    def remember_on(self, conn: Connection, identity: str, chat: str) -> None:
        """The write of `remember` inside `conn`'s transaction; call `stored` once that
        transaction committed (a rolled-back write must not be taken as done)."""
        conn.execute(
            _upsert(conn.dialect.name),
            {"c_owner": self.who(identity), "c_chat": chat, "c_at": self.clock()},
        )

    def stored(self, identity: str, chat: str) -> None:
        if len(self._known) > KNOWN_MAX:  # a cache, not a record: start over when full
            self._known.clear()
        self._known.add((self.who(identity), chat))

    def get(self, identity: str) -> str | None:
        with self.db.read() as s:
            row = s.get(TeamsPersonalChatRow, self.who(identity))
            return row.conversation_id if row is not None else None

    def forget(self, identity: str) -> None:
        owner = self.who(identity)
        with self.db.tx() as s:
            s.execute(delete(TeamsPersonalChatRow).where(TeamsPersonalChatRow.owner == owner))
        self._known = {k for k in self._known if k[0] != owner}


def personal_chats(services: Services) -> PersonalChats:
    """The store with the one pseudonym every service uses (the reflection service holds it)."""
    return PersonalChats(services.db, services.reflection.who, services.clock)
