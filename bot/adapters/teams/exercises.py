"""Teams handlers for weekly exercises: trainers' @mention commands in a channel, and answers.

Trainers schedule where the posts should appear, by @mentioning the bot in that channel
(`exercise weekly mon 09:00 fri 16:00 Asia/Shanghai`, `exercise list`, `exercise cancel
<id>`): the schedule's platform is "teams" and its channel is the Teams channel's
conversation id. The command's activity proves the bot is in that channel, so its
conversation reference is stored under the channel id right then (a message in a channel
thread arrives with `;messageid=…` appended; posts go to the channel itself).
An answer is the click's own invoke response: Teams shows it to the clicker only. Nothing
is posted to the channel for an answer, so no one sees another's answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.adapters.teams import exercise_cards as XC
from bot.adapters.teams.cards import Card, note_card
from bot.adapters.teams.case_cards import msg
from bot.adapters.teams.consult import owner_of
from bot.adapters.teams.references import ConversationRef, ConversationStore
from bot.exercises import commands
from bot.service import Refused

if TYPE_CHECKING:
    from bot.bootstrap import Services

log = logging.getLogger(__name__)

UUID = re.compile(r"^[0-9a-f-]{36}$")
Lang = Callable[[dict[str, Any]], Awaitable[str]]


def channel_of(activity: dict[str, Any]) -> str:
    """The Teams channel's conversation id (without a thread's `;messageid=…`)."""
    channel = ((activity.get("channelData") or {}).get("channel") or {}).get("id")
    conv = str((activity.get("conversation") or {}).get("id") or "")
    return str(channel or conv.split(";messageid=", 1)[0])


def _clicked_at(activity: dict[str, Any]) -> datetime | None:
    """Teams' own time of the click, to order two quick clicks of one person correctly."""
    try:
        return datetime.fromisoformat(str(activity.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        return None


def _where(channel: str, here: str, lang: str) -> str:
    """A Teams channel as a trainer reads it: its conversation id means nothing to people."""
    return msg("exercise_this_channel", lang) if channel == here else channel[:24] + "…"


class TeamsExercises:
    def __init__(self, services: Services, lang: Lang, conversations: ConversationStore) -> None:
        self.s = services
        self.x = services.exercises
        self.lang = lang
        self.conversations = conversations

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- trainers ------------------------------------------------------------------------------

    async def command(self, activity: dict[str, Any], words: list[str]) -> Card:
        """`@EthicsBot exercise …` in a channel; the answer is posted into that thread."""
        lang = await self.lang(activity)
        channel = channel_of(activity)
        ref = ConversationRef.from_activity(activity)
        if ref is not None and channel:
            # the bot is in this channel now: remember where posts to the channel itself go
            await self.call(
                self.conversations.remember,
                ConversationRef(
                    channel[:300],
                    ref.service_url,
                    ref.tenant_id,
                    "channel",
                    ref.team_id,
                    ref.bot_id,
                ),
            )
        try:
            reply = await self.call(
                commands.run,
                self.x,
                words,
                trainer=owner_of(activity),
                platform="teams",
                channel=channel,
                lang=lang,
                where=lambda other: _where(other, channel, lang),
            )
        except Refused as exc:
            reply = msg(exc.key, lang, detail=str(exc))
        return note_card(reply or msg("exercise_help", lang), lang)

    async def results(self, activity: dict[str, Any]) -> tuple[Card, bool]:
        """`exercise results`: the trainer's 12-week card and True, or a refusal (audited by
        `require_trainer`, as in Slack) and False. The caller decides where it goes: the
        results only ever go to the trainer's personal chat."""
        from bot.adapters.teams.reports import exercise_results_card

        lang = await self.lang(activity)
        trainer = owner_of(activity)
        try:
            await self.call(self.x.require_trainer, trainer, "results", "exercises")
            card = await self.call(exercise_results_card, self.s.reports, trainer, lang)
        except Refused as exc:
            return note_card(msg(exc.key, lang, detail=str(exc)), lang), False
        if card is None:
            return note_card(msg("exercise_results_none", lang), lang), True
        return card, True

    def personal_hint(self, lang: str) -> Card:
        """`exercise …` typed in the personal chat: say where and how to schedule instead."""
        return note_card(msg("teams_exercise_where", lang), lang)

    # -- staff ---------------------------------------------------------------------------------

    async def on_action(self, activity: dict[str, Any], verb: str, data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        post_id = str(data.get("p") or "")
        option = str(data.get("o") or "")
        if verb != XC.V_ANSWER or not UUID.match(post_id) or len(option) != 1:
            await self.call(
                self.s.consult.refuse,
                owner_of(activity),
                "teams.exercise_answer",
                "teams:card",
                "malformed click",
            )
            return note_card(msg("teams_unknown_action", lang), lang)
        try:
            chosen = await self.call(
                self.x.answer, post_id, owner_of(activity), option, _clicked_at(activity)
            )
        except Refused as exc:
            note = msg(exc.key if exc.key in ("exercise_closed", "gone") else "invalid", lang)
            try:
                post = await self.call(self.x.post, post_id)
            except Refused:
                post = None
            return XC.refused_card(post, note)
        post = await self.call(self.x.post, post_id)
        note = msg("answer_recorded", lang, option=chosen.id.upper(), label=chosen.label.get(lang))
        return XC.answered_card(post, chosen, lang, note)
