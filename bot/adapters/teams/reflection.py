"""The reflection follow-up in Teams: where to ask, the ask itself, the answer, the opt-out.

Where: Teams lets a bot write first only into a conversation it has with the person, and a
personal chat's id cannot be derived from the user's Entra id, so every consultation click
in the personal chat keeps that chat's id under the person's keyed pseudonym
(`teams_personal_chats`, bot/adapters/teams/personal.py; the chat's reference itself is
stored by references.py). The outbox row (Kind.REFLECTION_ASK) then finds it from the
address the reflection service holds until the ask is sent.
The answer goes through `ReflectionService.answer` exactly as Slack's does: the session id
in the card is untrusted input, the service accepts an answer only from the person whose
consultation it was (a click on someone else's card is refused and audited). "Worse" offers
to speak up at once through the Teams speak-up flow (bot/adapters/teams/cases.py), by the
buttons it already answers to. "Don't ask me again" is on the ask and on the welcome card.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.adapters.teams import reflection_cards as RC
from bot.adapters.teams.cards import Card, message
from bot.adapters.teams.connector import ConnectorError
from bot.adapters.teams.consult import owner_of
from bot.adapters.teams.personal import PersonalChats, personal_chats
from bot.adapters.teams.personal import personal_chat_of as _personal
from bot.adapters.teams.text import msg
from bot.delivery.outbox import Job, Kind
from bot.reflection.service import Submission, parse_submission
from bot.service import Refused

if TYPE_CHECKING:
    from bot.adapters.teams.delivery import Handler, TeamsDeliverer
    from bot.bootstrap import Services

log = logging.getLogger(__name__)


class TeamsReflection:
    """Card clicks of the follow-up, and the two hooks on consultation cards."""

    def __init__(self, services: Services, chats: PersonalChats) -> None:
        self.s = services
        self.r = services.reflection
        self.chats = chats

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def lang(self, activity: dict[str, Any]) -> str:
        lang = await self.call(self.s.consult.lang_of, owner_of(activity))
        if lang:
            return str(lang)
        return "zh" if str(activity.get("locale") or "").lower().startswith("zh") else "en"

    async def seen(self, activity: dict[str, Any]) -> None:
        """A consultation click in the personal chat: keep where to ask this person later."""
        chat = _personal(activity)
        if chat is not None:
            await self.call(self.chats.remember, owner_of(activity), chat)

    async def welcome_extra(self, activity: dict[str, Any], card: Card, lang: str) -> Card:
        """The welcome card gets the opt-out (unless the person opted out already)."""
        await self.seen(activity)
        if await self.call(self.r.opted_out, owner_of(activity)):
            return card
        return {**card, "body": [*card["body"], *RC.welcome_block(lang)]}

    async def on_action(self, activity: dict[str, Any], verb: str, data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        owner = owner_of(activity)
        if verb == RC.V_STOP:
            await self.call(self.r.opt_out, owner)
            await self.call(self.chats.forget, owner)
            return RC.note("reflect_opted_out", lang)
        session_id = str(data.get("s") or "")
        sub = parse_submission(
            session_id,
            turned_out=str(data.get(RC.TURNED_OUT_ID) or ""),
            same_again=str(data.get(RC.SAME_ID) or ""),
            learned=str(data.get(RC.LEARNED_ID) or ""),
        )
        if verb != RC.V_ANSWER or sub == "session":
            return await self._forged(owner, "malformed click", lang)
        if not isinstance(sub, Submission):
            # Teams checks required inputs before sending; a client that did not gets the
            # questions again (their own session id: nothing is stored until complete)
            return RC.questions_card(session_id, lang, notice=msg("reflect_pick", lang))
        try:
            answered = await self.call(
                self.r.answer,
                owner,
                sub.session_id,
                turned_out=sub.turned_out,
                same_again=sub.same_again,
                learned=sub.learned,
            )
        except Refused as exc:
            if exc.key == "not_yours":
                return await self._forged(owner, "not the owner", lang, "reflect_not_yours")
            return RC.note("reflect_gone" if exc.key == "gone" else "reflect_pick", lang)
        return RC.thanks_card(answered, lang)

    async def _forged(self, owner: str, reason: str, lang: str, key: str = "") -> Card:
        await self.call(self.s.consult.refuse, owner, "teams.reflect", "teams:card", reason)
        return RC.note(key or "teams_unknown_action", lang)


def wire(agent: Any, services: Services) -> TeamsReflection:
    """Plug the follow-up into the Teams agent: its clicks to the desk router, the opt-out
    onto the welcome card (both by attributes those modules expose for it)."""
    h = TeamsReflection(services, personal_chats(services))
    if agent.desk is not None:
        agent.desk.reflection = h
    agent.h.welcome_extra = h.welcome_extra
    return h


# -- delivery ---------------------------------------------------------------------------------


async def reflection_ask(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Kind.REFLECTION_ASK: the ask, into the person's personal chat. Re-checked here: a
    consultation purged or a person who opted out since the row was queued gets nothing."""
    session_id = str(job.payload["session_id"])
    r = d.s.reflection
    ask = await asyncio.to_thread(r.pending, session_id)
    if ask is None:
        return {"sent": "skipped"}
    chat = None
    if ask.address.startswith("teams:"):
        chat = await asyncio.to_thread(personal_chats(d.s).get, ask.address)
    if chat is None:  # another platform's identity, or no personal chat known: nobody to ask
        await asyncio.to_thread(r.drop, session_id)
        return {"sent": "skipped (no personal chat)"}
    if job.attempts > 1 and job.last_error is None:
        # the previous claimant vanished mid-post: the ask may have arrived. Teams cannot
        # read a chat back, and asking twice is worse than once too few (as in Slack)
        log.info("outbox %s: follow-up may have been sent already; not repeating", job.id)
        await asyncio.to_thread(r.mark_asked, session_id)
        return {"sent": "maybe (not repeated)"}
    ref = await d.reference(chat)
    try:
        await d.client.send(
            ref.service_url, ref.conversation_id, message(RC.ask_card(ask), ask.title)
        )
    except ConnectorError:  # the person removed the app (403/404): they cannot be asked
        await asyncio.to_thread(r.drop, session_id)
        return {"sent": "skipped (Teams refused)"}
    await asyncio.to_thread(r.mark_asked, session_id)
    return {"sent": "personal chat"}


REFLECTION_HANDLERS: dict[Kind, Handler] = {Kind.REFLECTION_ASK: reflection_ask}
