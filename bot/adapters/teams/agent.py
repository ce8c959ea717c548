"""The Agents SDK `ActivityHandler` for EthicsBot: routes each Teams activity, once.

Every activity first refreshes its conversation reference (so proactive posts can reach that
conversation later) and is then checked against the delivery keys in the database: Teams
redelivers an activity with the same id when our answer was slow, and the second copy must
change nothing, on whichever instance it lands. Consultations live in the personal chat;
replies go out through our own `ConnectorClient` (retries 429/5xx), and card clicks answer
in the invoke response with the refreshed card, so the card updates in place.

One transaction per arrival (`ConsultationService.arrive`): the reference (when it changed),
the delivery key and, for a message, the person's language. A consultation step click has
none of its own: its key, reference and personal chat are claimed and written in the step's
transaction (`ConsultationService.act`, via consult.Once), so a redelivered click is refused
there and a step is never applied twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any, cast

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
)
from microsoft_agents.hosting.core import ActivityHandler, ChannelAdapter, TurnContext
from sqlalchemy import Connection

from bot.adapters.teams import cards as C
from bot.adapters.teams.connector import ConnectorClient, ConnectorError
from bot.adapters.teams.consult import Once, TeamsConsultations, locale_lang, owner_of, step_of
from bot.adapters.teams.personal import personal_chat_of
from bot.adapters.teams.references import ConversationRef, ConversationStore
from bot.adapters.teams.text import msg
from bot.delivery.worker import Retry
from bot.service import Arrival, ConsultationService
from bot.storage.errors import StorageUnavailable

if TYPE_CHECKING:
    from bot.adapters.teams.cases import TeamsDesk  # teamsdesk

log = logging.getLogger(__name__)


# a conversation's reference stored by this process is written again only when it changed
# or is older than this (so a row another instance rewrote is refreshed within the hour)
REF_REFRESH = 3600.0
REFS_MAX = 50_000  # a cache, not a record: start over when full
_AS_DICT = "ethicsbot.activity"  # turn_state key of the activity's wire dict
_LANG = "ethicsbot.lang"  # turn_state key of the person's language, read on arrival
_CLICK = "adaptiveCard/action"


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
        # by conversation: the reference this process stored last, and when
        self._refs: dict[str, tuple[ConversationRef, float]] = {}

    def _ref_due(self, ref: ConversationRef | None) -> ConversationRef | None:
        """The reference to write with this activity: None unless it is new to this process,
        differs from the one this process stored last for its conversation (a service URL
        changed, also back to an earlier one), or was stored over REF_REFRESH ago."""
        if ref is None:
            return None
        stored = self._refs.get(ref.conversation_id)
        if stored is not None and stored[0] == ref and time.monotonic() - stored[1] <= REF_REFRESH:
            return None
        return ref

    def _ref_stored(self, ref: ConversationRef) -> None:
        if len(self._refs) >= REFS_MAX:
            self._refs.clear()
        self._refs[ref.conversation_id] = (ref, time.monotonic())

    def _arrived(self, activity: dict[str, Any], ref: ConversationRef | None) -> Arrival:
        """In one hop off the event loop and one transaction: claim the delivery key, write
        the reference if due, and for a message read the person's language (storing their
        locale if they are new), which every message reads. `first` False: a redelivery."""
        due = self._ref_due(ref)
        also = None
        if due is not None:

            def also(conn: Connection) -> None:
                self.conversations.remember_on(conn, due)

        message = activity.get("type") == ActivityTypes.message
        arrival = self.service.arrive(
            delivery_key(activity),
            owner=owner_of(activity) if message else None,
            locale=locale_lang(activity),
            also=also,
        )
        if due is not None and arrival.first:
            self._ref_stored(due)
        return arrival

    def _step_once(self, activity: dict[str, Any], ref: ConversationRef | None) -> Once:
        """A step click's arrival, left to the step's transaction: its key, the reference if
        due and, with the reflection follow-up wired, the personal chat (as its `seen`
        would write after the click: where to ask later), unless this process stored it."""
        due = self._ref_due(ref)
        chat = None
        owner = owner_of(activity)
        reflection = self.desk.reflection if self.desk is not None else None
        if reflection is not None:
            chat = personal_chat_of(activity)
            if chat is not None and reflection.chats.known(owner, chat):
                chat = None
        if due is None and chat is None:
            return Once(delivery_key(activity))

        def also(conn: Connection) -> None:
            if due is not None:
                self.conversations.remember_on(conn, due)
            if chat is not None and reflection is not None:
                reflection.chats.remember_on(conn, owner, chat)

        def on_commit() -> None:
            if due is not None:
                self._ref_stored(due)
            if chat is not None and reflection is not None:
                reflection.chats.stored(owner, chat)

        return Once(delivery_key(activity), also, on_commit)

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_activity(turn_context)
        ref = ConversationRef.from_activity(activity)
        click = activity.get("type") == ActivityTypes.invoke and activity.get("name") == _CLICK
        if click:
            value = activity.get("value") or {}
            action = value.get("action") if isinstance(value, dict) else None
            if isinstance(action, dict) and action.get("type") == "Action.Execute":
                data = dict(action.get("data") or {})
                verb = str(action.get("verb") or data.get("verb") or "")
                if not isinstance(step_of(verb, data), str):
                    # a step: no arrival transaction, the step's own claims the key
                    await self._answer_click(turn_context, self._step_once(activity, ref))
                    return
        arrival = await self.service.db.run(self._arrived, activity, ref)  # inline on SQLite
        if not arrival.first:
            log.info("teams: redelivered %s activity ignored", activity.get("type"))
            if activity.get("type") == "invoke":
                await self._answer_duplicate_invoke(turn_context, activity)
            return
        if arrival.lang:
            turn_context.turn_state[_LANG] = arrival.lang
        if click:
            await self._answer_click(turn_context)
            return
        await super().on_turn(turn_context)

    async def _answer_click(self, turn_context: TurnContext, once: Once | None = None) -> None:
        """An Action.Execute answered with its card in the turn's invoke-response slot (as
        the SDK's `send_activity` of an invokeResponse would leave it, without its deep
        copy of the card); a malformed invoke gets the SDK's own 400 answer."""
        try:
            invoke_value = self._get_adaptive_card_invoke_value(turn_context.activity)
        except Exception:  # the SDK's _InvokeResponseException: its answer, its way
            await super().on_turn(turn_context)
            return
        card = await self._click_card(turn_context, invoke_value, once)
        _respond(turn_context, card)

    # -- messages ------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_activity(turn_context)
        kind = (activity.get("conversation") or {}).get("conversationType") or "personal"
        known = turn_context.turn_state.get(_LANG)  # read on arrival: no second read
        lang = str(known) if known else await self.h.lang(activity)
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
        """The SDK's entry (on_turn answers clicks through `_click_card` itself)."""
        return _card_response(await self._click_card(turn_context, invoke_value))

    async def _click_card(
        self,
        turn_context: TurnContext,
        invoke_value: AdaptiveCardInvokeValue,
        once: Once | None = None,
    ) -> C.Card:
        activity = turn_activity(turn_context)
        action = invoke_value.action
        data = dict(action.data or {})
        verb = str(action.verb or data.get("verb") or "")
        try:
            # teamsdesk: `case.*` / `ex.*` verbs are the desk's (never a step's: `once`)
            card = await self.desk.on_action(activity, verb, data) if self.desk else None
            if card is None:
                card = await self.h.on_action(activity, verb, data, once)
                if self.desk is not None:  # teamsdesk: the outcome's "Report to compliance…"
                    card = await self.desk.after_consultation(activity, data, card)
        except StorageUnavailable:  # logged where translated; asking the database again
            lang = locale_lang(activity)  # for the language would only wait once more
            card = C.note_card(msg("db_unavailable", lang), lang)
        except Exception as exc:  # the user sees our words, never the exception
            log.error("teams: card action %s failed (%s)", verb[:40], type(exc).__name__)
            lang = await self._lang_or_en(activity)
            card = C.note_card(msg("error", lang), lang)
        return card

    async def _answer_duplicate_invoke(
        self, turn_context: TurnContext, activity: dict[str, Any]
    ) -> None:
        """A redelivered click: show where the consultation is now, apply nothing."""
        value = activity.get("value") or {}
        data = dict((value.get("action") or {}).get("data") or {})
        session_id = str(data.get("s") or "")
        from bot.adapters.teams.consult import SESSION_ID

        if SESSION_ID.match(session_id):
            card = await self.h.show(owner_of(activity), activity, session_id, again=True)
        else:
            card = await self.h.welcome(activity)
        _respond(turn_context, card)

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


def _respond(turn_context: TurnContext, card: C.Card) -> None:
    """The invoke's answer, the card in it, stored where the SDK's adapter reads it at the
    end of the turn (its INVOKE_RESPONSE_KEY slot): the same JSON as `_card_response`
    dumped through `send_activity`, without the per-click deep copy of the card (our cards
    are built fresh for each answer and never changed after)."""
    body = {"statusCode": 200, "type": C.CONTENT_TYPE, "value": card}
    turn_context.turn_state[ChannelAdapter.INVOKE_RESPONSE_KEY] = Activity(
        type=ActivityTypes.invoke_response, value={"status": 200, "body": body}
    )


def _strip_mentions(activity: dict[str, Any]) -> str:
    """The typed text without `<at>EthicsBot</at>` mentions (channels, group chats)."""
    text = str(activity.get("text") or "")
    for entity in activity.get("entities") or []:
        if entity.get("type") == "mention" and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return text.strip()
