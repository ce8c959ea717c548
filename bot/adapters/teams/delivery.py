"""Teams' side of the outbox: `TeamsDeliverer` implements `bot.delivery.worker.Deliverer`.

The dispatch table below maps each job kind to its handler. Kinds that have no Teams
handler yet raise `NotYet`, so their rows wait in the outbox (logged once per row) instead
of being lost or delivered wrongly; the case-desk and exercise kinds are added here by
registering a handler in `HANDLERS` (an async function of the deliverer and the job that
returns what to store on the row, using `post` / `update` below).
Every post needs a stored conversation reference (`teams_conversations`): Teams lets a bot
post only into conversations it was added to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.adapters.teams import cards as C
from bot.adapters.teams.connector import ConnectorClient
from bot.adapters.teams.references import ConversationRef, ConversationStore
from bot.delivery.outbox import Job, Kind
from bot.delivery.worker import NotYet

if TYPE_CHECKING:
    from bot.bootstrap import Services

log = logging.getLogger(__name__)

Handler = Callable[["TeamsDeliverer", Job], Awaitable[dict[str, str]]]


class TeamsDeliverer:
    """Delivers the outbox rows of platform "teams" through the connector client."""

    platform = "teams"

    def __init__(
        self, services: Services, client: ConnectorClient, conversations: ConversationStore
    ) -> None:
        self.s = services
        self.client = client
        self.conversations = conversations

    async def deliver(self, job: Job) -> dict[str, str]:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise NotYet(f"no Teams handler for {job.kind.value} yet")
        return await handler(self, job)

    async def reference(self, conversation_id: str) -> ConversationRef:
        """The stored reference of a conversation, or NotYet (the app was never added)."""
        if not conversation_id:
            raise NotYet("no Teams conversation configured")
        ref = await asyncio.to_thread(self.conversations.get, conversation_id)
        if ref is None:
            raise NotYet("the app was never added to that Teams conversation")
        return ref

    async def post(self, conversation_id: str, card: C.Card, summary: str = "") -> dict[str, str]:
        """Post one card proactively; the result row keeps where it is (for later updates)."""
        ref = await self.reference(conversation_id)
        activity_id = await self.client.send(
            ref.service_url, ref.conversation_id, C.message(card, summary)
        )
        return {"conversation": ref.conversation_id, "activity": activity_id}

    async def update(self, conversation_id: str, activity_id: str, card: C.Card) -> dict[str, str]:
        """Replace a posted card for everyone in the conversation."""
        ref = await self.reference(conversation_id)
        await self.client.update(ref.service_url, ref.conversation_id, activity_id, C.message(card))
        return {"conversation": ref.conversation_id, "activity": activity_id}


# Kind -> handler. Case-desk kinds (case_card, card_update, reminder, relay_question,
# notify_assignee) and exercise kinds (exercise_post, exercise_reveal) are filled in by the
# case-desk and exercise work; until then their rows wait (NotYet), none is dropped.
HANDLERS: dict[Kind, Handler] = {}

# teamsdesk: the case-desk and exercise kinds (bot/adapters/teams/desk_delivery.py)
from bot.adapters.teams.desk_delivery import DESK_HANDLERS  # noqa: E402

HANDLERS.update(DESK_HANDLERS)

# teamsrep: the monthly report and the reflection follow-up
from bot.adapters.teams.reflection import REFLECTION_HANDLERS  # noqa: E402
from bot.adapters.teams.reports import monthly_report  # noqa: E402

HANDLERS[Kind.MONTHLY_REPORT] = monthly_report
HANDLERS.update(REFLECTION_HANDLERS)
