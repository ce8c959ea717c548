"""Stored Teams conversation references: where the bot may post without being spoken to.

Teams only lets a bot post proactively (exercises, case cards, a reporter's reply) into a
conversation it was added to, with the service URL that conversation lives at. Every
activity refreshes its conversation's row, so any instance can post after a restart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select

from bot.storage.db import Database, insert_for
from bot.storage.tables import TeamsConversationRow

_CONVERSATIONS = cast(Table, TeamsConversationRow.__table__)
_FIELDS = ("service_url", "tenant_id", "kind", "team_id", "bot_id", "updated_at")


@functools.cache
def _upsert(dialect: str) -> Any:
    """The reference's upsert, a Core statement built once per dialect: through an ORM
    Session, statement building and the unit of work cost ~2 ms a call, the SQL a fraction."""
    base = insert_for(dialect)(_CONVERSATIONS).values(
        conversation_id=bindparam("r_id"), **{f: bindparam(f"r_{f}") for f in _FIELDS}
    )
    return base.on_conflict_do_update(
        index_elements=["conversation_id"], set_={f: base.excluded[f] for f in _FIELDS}
    )


@dataclass(frozen=True)
class ConversationRef:
    conversation_id: str
    service_url: str
    tenant_id: str = ""
    kind: str = "personal"  # personal, channel, groupChat
    team_id: str = ""
    bot_id: str = ""

    @classmethod
    def from_activity(cls, activity: dict[str, Any]) -> ConversationRef | None:
        """The reference an inbound activity carries (None when it lacks one)."""
        conv = activity.get("conversation") or {}
        service_url = str(activity.get("serviceUrl") or "")
        if not conv.get("id") or not service_url:
            return None
        channel_data = activity.get("channelData") or {}
        tenant = str(conv.get("tenantId") or (channel_data.get("tenant") or {}).get("id") or "")
        team = str((channel_data.get("team") or {}).get("id") or "")
        kind = str(conv.get("conversationType") or ("channel" if team else "personal"))
        return cls(
            conversation_id=str(conv["id"])[:300],
            service_url=service_url[:500],
            tenant_id=tenant[:64],
            kind=kind[:16],
            team_id=team[:300],
            bot_id=str((activity.get("recipient") or {}).get("id") or "")[:200],
        )


class ConversationStore:
    """Upserts and reads `teams_conversations` rows (one short transaction each, or inside
    the caller's: `remember_on`)."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def remember(self, ref: ConversationRef) -> None:
        with self.db.core() as conn:
            self.remember_on(conn, ref)

    def remember_on(self, conn: Connection, ref: ConversationRef) -> None:
        """`remember` inside `conn`'s transaction (an activity's arrival: one transaction)."""
        conn.execute(
            _upsert(conn.dialect.name),
            {
                "r_id": ref.conversation_id,
                "r_service_url": ref.service_url,
                "r_tenant_id": ref.tenant_id,
                "r_kind": ref.kind,
                "r_team_id": ref.team_id,
                "r_bot_id": ref.bot_id,
                "r_updated_at": self.clock(),
            },
        )

    def get(self, conversation_id: str) -> ConversationRef | None:
        with self.db.read() as s:
            row = s.execute(
                select(TeamsConversationRow).where(
                    TeamsConversationRow.conversation_id == conversation_id
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return ConversationRef(
                row.conversation_id,
                row.service_url,
                row.tenant_id,
                row.kind,
                row.team_id,
                row.bot_id,
            )
