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

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from bot.identity import Pseudonymizer
from bot.storage.db import Database, insert
from bot.storage.tables import TeamsPersonalChatRow

if TYPE_CHECKING:
    from bot.bootstrap import Services

KNOWN_MAX = 50_000  # people whose chat this process wrote already (skips a write per click)


def personal_chat_of(activity: dict[str, Any]) -> str | None:
    """The personal chat's id, or None for a channel or group chat."""
    conv = activity.get("conversation") or {}
    if (conv.get("conversationType") or "personal") != "personal" or not conv.get("id"):
        return None
    return str(conv["id"])[:300]


class PersonalChats:
    """The personal chat of each Teams user, by pseudonym (one short transaction each)."""

    def __init__(self, db: Database, who: Pseudonymizer, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.who = who
        self.clock = clock
        self._known: set[tuple[str, str]] = set()  # (owner, chat) written by this process

    def remember(self, identity: str, chat: str) -> None:
        owner = self.who(identity)
        if (owner, chat) in self._known:
            return  # a chat's id does not change: one write per person and process
        values = {"conversation_id": chat, "updated_at": self.clock()}
        with self.db.tx() as s:
            s.execute(
                insert(s)(TeamsPersonalChatRow)
                .values(owner=owner, **values)
                .on_conflict_do_update(index_elements=["owner"], set_=values)
            )
        if len(self._known) > KNOWN_MAX:  # a cache, not a record: start over when full
            self._known.clear()
        self._known.add((owner, chat))

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
