"""The Agents SDK `ActivityHandler` for EthicsBot: routes each Teams activity, once.

Every activity first refreshes its conversation reference (so proactive posts can reach that
conversation later) and is then checked against the delivery keys in the database: Teams
redelivers an activity with the same id when our answer was slow, and the second copy must
change nothing, on whichever instance it lands. Consultations live in the personal chat;
replies go out through our own `ConnectorClient` (retries 429/5xx), and card clicks answer
in the invoke response with the refreshed card, so the card updates in place.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any, cast

from microsoft_agents.activity import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext

from bot.adapters.teams import cards as C
from bot.adapters.teams.connector import ConnectorClient, ConnectorError
from bot.adapters.teams.consult import TeamsConsultations, locale_lang
from bot.adapters.teams.references import ConversationRef, ConversationStore
from bot.adapters.teams.text import msg
from bot.delivery.worker import Retry
from bot.service import ConsultationService
from bot.storage.errors import StorageUnavailable

if TYPE_CHECKING:
    from bot.adapters.teams.cases import TeamsDesk  # teamsdesk

log = logging.getLogger(__name__)


# a conversation's reference stored by this process is written again only when it changed
# or is older than this (so a row another instance rewrote is refreshed within the hour)
REF_REFRESH = 3600.0
REFS_MAX = 50_000  # a cache, not a record: start over when full
_AS_DICT = "ethicsbot.activity"  # turn_state key of the activity's wire dict


def as_dict(activity: Activity) -> dict[str, Any]:
    """The activity as the wire JSON (camelCase), which our code reads."""
    return activity.model_dump(mode="json", by_alias=True, exclude_none=True)


def turn_activity(turn_context: TurnContext) -> dict[str, Any]:
    """`as_dict` of the turn's activity, dumped once per turn (every handler reads it). The
    dict is shared: handlers read it and never change it."""
    cached = turn_context.turn_state.get(_AS_DICT)
    if cached is None:
        cached = turn_context.turn_state[_AS_DICT] = as_dict(turn_context.activity)
    return cast(dict[str, Any], cached)


def delivery_key(activity: dict[str, Any]) -> str | None:
    """A bounded key for 'this activity was handled' (conversation ids can be long)."""
    activity_id = activity.get("id")
    conversation = (activity.get("conversation") or {}).get("id")
    if not activity_id or not conversation:
        return None
    digest = hashlib.sha256(f"{conversation}\n{activity_id}".encode()).hexdigest()[:40]
    return f"teams:{digest}"


class EthicsAgent(ActivityHandler):
    """One instance per process; holds no per-user state."""

    def __init__(
        self,
        consult: ConsultationService,
        conversations: ConversationStore,
        client: ConnectorClient,
        contact: str = "",
    ) -> None:
        self.service = consult
        self.conversations = conversations
        self.client = client
        self.h = TeamsConsultations(consult, contact)
        # teamsdesk: speaking up, the case desk and exercises (mount sets it)
        self.desk: TeamsDesk | None = None
        self._refs: dict[ConversationRef, float] = {}  # stored by this process, and when

    def _arrived(self, ref: ConversationRef | None, key: str | None) -> bool:
        """In one hop off the event loop: refresh the conversation's reference (unless this
        process stored the very same one within REF_REFRESH), then claim the delivery key.
        False when the activity was handled already (a redelivery)."""
        if ref is not None:
            now = time.monotonic()
            stored = self._refs.get(ref)
            if stored is None or now - stored > REF_REFRESH:
                self.conversations.remember(ref)
                if len(self._refs) >= REFS_MAX:
                    self._refs.clear()
                self._refs[ref] = now
        return key is None or self.service.first_delivery(key)

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_activity(turn_context)
        ref = ConversationRef.from_activity(activity)
        key = delivery_key(activity)
        if not await asyncio.to_thread(self._arrived, ref, key):
            log.info("teams: redelivered %s activity ignored", activity.get("type"))
            if activity.get("type") == "invoke":
                await self._answer_duplicate_invoke(turn_context, activity)
            return
        await super().on_turn(turn_context)

    # -- messages ------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_activity(turn_context)
        kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
        lang = await self.h.lang(activity)
        words = _strip_mentions(activity).split()
        if (
            self.desk is not None
            and self.desk.exercises is not None
            and ([w.lower() for w in words] == ["exercise", "results"])
        ):  # teamstrain: a trainer's results, to the personal chat only
            await self.exercise_results(activity, kind, lang)
            return
        if self.desk is not None:  # teamsdesk: `report`, `status`, `exercise …` are the desk's
            desk_card = await self.desk.on_message(activity, _strip_mentions(activity).split())
            if desk_card is not None:
                await self.send(activity, desk_card)
                return
        if kind != "personal":
            # a consultation typed into a channel would be public: point to the private chat
            await self.send(activity, C.note_card(msg("teams_not_here", lang), lang))
            return
        value = activity.get("value")
        if isinstance(value, dict) and value.get("verb"):
            # an Action.Submit from an older client: treat it as the same click
            card = await self.h.on_action(activity, str(value["verb"]), value)
        else:
            card = await self.h.on_text(activity, _strip_mentions(activity), lang)
        await self.send(activity, card)

    async def on_members_added_activity(  # type: ignore[override]
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        activity = turn_activity(turn_context)
        bot_id = (activity.get("recipient") or {}).get("id")
        kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
        if kind == "personal" and any(m.id == bot_id for m in members_added):
            if self.desk is not None:  # an officer installing the app: where to reach them
                await self.desk.officer_chat(activity)
            await self.send(activity, await self.h.welcome(activity, greeting=True))

    # -- card clicks ---------------------------------------------------------------------------

    async def on_adaptive_card_invoke(  # type: ignore[override]
        self, turn_context: TurnContext, invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        activity = turn_activity(turn_context)
        action = invoke_value.action
        data = dict(action.data or {})
        verb = str(action.verb or data.get("verb") or "")
        try:
            # teamsdesk: `case.*` / `ex.*` verbs are the desk's
            card = await self.desk.on_action(activity, verb, data) if self.desk else None
            if card is None:
                card = await self.h.on_action(activity, verb, data)
                if self.desk is not None:  # teamsdesk: the outcome's "Report to compliance…"
                    card = await self.desk.after_consultation(activity, data, card)
        except StorageUnavailable:  # logged where translated; asking the database again
            lang = locale_lang(activity)  # for the language would only wait once more
            card = C.note_card(msg("db_unavailable", lang), lang)
        except Exception as exc:  # the user sees our words, never the exception
            log.error("teams: card action %s failed (%s)", verb[:40], type(exc).__name__)
            lang = await self._lang_or_en(activity)
            card = C.note_card(msg("error", lang), lang)
        return _card_response(card)

    async def _answer_duplicate_invoke(
        self, turn_context: TurnContext, activity: dict[str, Any]
    ) -> None:
        """A redelivered click: show where the consultation is now, apply nothing."""
        value = activity.get("value") or {}
        data = dict((value.get("action") or {}).get("data") or {})
        session_id = str(data.get("s") or "")
        from bot.adapters.teams.consult import SESSION_ID, owner_of

        if SESSION_ID.match(session_id):
            card = await self.h.show(owner_of(activity), activity, session_id)
        else:
            card = await self.h.welcome(activity)
        response = _card_response(card)
        await turn_context.send_activity(
            Activity(
                type="invokeResponse",
                value={
                    "status": 200,
                    "body": response.model_dump(mode="json", by_alias=True, exclude_none=True),
                },
            )
        )

    # -- outbound ------------------------------------------------------------------------------

    async def send(self, activity: dict[str, Any], card: C.Card) -> None:
        """A new message with one card, into the conversation the activity came from."""
        conversation = (activity.get("conversation") or {}).get("id", "")
        try:
            await self.client.send(str(activity.get("serviceUrl")), conversation, C.message(card))
        except Retry as exc:  # the person can simply type again; nothing was applied twice
            log.warning("teams: reply not delivered (%s)", exc.reason)

    async def exercise_results(self, activity: dict[str, Any], kind: str, lang: str) -> None:
        """The results card into the trainer's personal chat, never into a channel: typed in
        a channel, the channel hears only where the results went (or how to get them)."""
        from bot.adapters.teams.consult import owner_of
        from bot.adapters.teams.personal import personal_chats

        assert self.desk is not None and self.desk.exercises is not None
        card, ok = await self.desk.exercises.results(activity)
        services = self.desk.s
        if kind == "personal" or not ok:
            if kind == "personal" and ok:
                # a trainer's own chat (the role was just checked): where results go later
                chat = str((activity.get("conversation") or {}).get("id") or "")[:300]
                await asyncio.to_thread(personal_chats(services).remember, owner_of(activity), chat)
            await self.send(activity, card)  # a refusal is said where the command was typed
            return
        known = await asyncio.to_thread(personal_chats(services).get, owner_of(activity))
        ref = None
        if known is not None:
            ref = await asyncio.to_thread(self.conversations.get, known)
        if ref is None:
            await self.send(activity, C.note_card(msg("teams_train_no_personal", lang), lang))
            return
        try:
            await self.client.send(ref.service_url, ref.conversation_id, C.message(card))
        except (Retry, ConnectorError) as exc:  # e.g. the app was removed from the chat
            log.warning("teams: exercise results not delivered (%s)", type(exc).__name__)
            await self.send(activity, C.note_card(msg("teams_train_no_personal", lang), lang))
            return
        await self.send(activity, C.note_card(msg("teams_train_sent_personal", lang), lang))

    async def _lang_or_en(self, activity: dict[str, Any]) -> str:
        try:
            return await self.h.lang(activity)
        except Exception:
            return "en"


def _card_response(card: C.Card) -> AdaptiveCardInvokeResponse:
    return AdaptiveCardInvokeResponse(status_code=200, type=C.CONTENT_TYPE, value=card)


def _strip_mentions(activity: dict[str, Any]) -> str:
    """The typed text without `<at>EthicsBot</at>` mentions (channels, group chats)."""
    text = str(activity.get("text") or "")
    for entity in activity.get("entities") or []:
        if entity.get("type") == "mention" and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return text.strip()
