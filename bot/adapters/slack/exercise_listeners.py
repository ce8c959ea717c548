"""Slack listeners for weekly exercises: answer buttons and the trainers' command."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import actions as A
from bot.adapters.slack import exercise_blocks as XB
from bot.adapters.slack.listeners import Body, Deferred, SlackConsultations, owner_of
from bot.adapters.slack.text import msg
from bot.cases.roles import TRAINER, qualify
from bot.exercises.service import ExerciseService
from bot.service import Refused

log = logging.getLogger(__name__)


class SlackExercises:
    def __init__(self, consult: SlackConsultations, exercises: ExerciseService) -> None:
        self.c = consult
        self.x = exercises

    async def on_answer(self, body: Body, respond: AsyncRespond, client: AsyncWebClient) -> None:
        value = str(body["actions"][0].get("value") or "")
        post_id, _, option = value.partition("|")
        lang = await self.c.lang(client, body)
        if A.session_id(post_id) is None or len(option) != 1:
            await self.c.refuse_forged(body, "exercise_answer", "malformed value")
            return
        try:
            stored = await asyncio.to_thread(
                self.x.answer, post_id, owner_of(body), option, _click_time(body)
            )
            text = msg(
                "answer_recorded", lang, option=stored.id.upper(), label=stored.label.get(lang)
            )
        except Refused as exc:
            text = msg(exc.key if exc.key in ("exercise_closed", "gone") else "invalid", lang)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def ack_command(self, ack: AsyncAck, body: Body) -> None:
        """`/ethics exercise …` answered in the ack (private to the trainer)."""
        words = str(body.get("text") or "").split()[1:]
        lang = str(await asyncio.to_thread(self.c.service.lang_of, owner_of(body)) or "en")
        user = qualify("slack", str(body.get("user_id") or ""))
        try:
            text = await asyncio.to_thread(self._run, words, user, str(body.get("channel_id")))
        except Refused as exc:
            text = msg(exc.key, lang, detail=str(exc))
        await ack(text=text or msg("exercise_help", lang), response_type="ephemeral")

    def _run(self, words: list[str], user: str, channel: str) -> str:
        if not words or words[0] == "help":
            return ""
        cmd, args = words[0], words[1:]
        if cmd == "list":
            rows = self.x.schedules()
            lines = [
                f"`{s.id[:8]}` <#{s.channel}> {s.exercise_id or 'weekly'} {s.post_spec} → "
                f"{s.reveal_spec} {s.tz} [{s.status}]"
                for s in rows
            ]
            return "\n".join(lines) or "No schedules."
        if cmd == "weekly" and len(args) >= 4:
            tz = args[4] if len(args) > 4 else "Asia/Shanghai"
            s = self.x.schedule(
                user,
                platform="slack",
                channel=channel,
                kind="weekly",
                post=f"{args[0]} {args[1]}",
                reveal=f"{args[2]} {args[3]}",
                tz=tz,
            )
            return (
                f"Weekly rotation `{s.id[:8]}` scheduled here: "
                f"{s.post_spec} → {s.reveal_spec} ({s.tz})."
            )
        if cmd == "once" and len(args) >= 3:
            tz = args[3] if len(args) > 3 else "Asia/Shanghai"
            s = self.x.schedule(
                user,
                platform="slack",
                channel=channel,
                kind="once",
                exercise_id=args[0],
                post=args[1],
                reveal=args[2],
                tz=tz,
            )
            return (
                f"Exercise {s.exercise_id} `{s.id[:8]}` scheduled here: "
                f"{s.post_spec} → {s.reveal_spec} ({s.tz})."
            )
        if cmd == "cancel" and args:
            match = [s for s in self.x.schedules() if s.id.startswith(args[0])]
            if len(match) != 1:
                raise Refused("gone")
            s = self.x.cancel(user, match[0].id)
            return f"Schedule `{s.id[:8]}` cancelled."
        return ""

    async def home_blocks(self, user: str) -> list[Any]:
        if not self.x.roles().has(TRAINER, qualify("slack", user)):
            return []
        results = await asyncio.to_thread(self.x.results)
        schedules = await asyncio.to_thread(self.x.schedules)
        return XB.trainer_home(results, schedules)


def _click_time(body: Body) -> datetime | None:
    """Slack's own time of the click (`action_ts`), to order two quick clicks correctly."""
    try:
        return datetime.fromtimestamp(float(body["actions"][0]["action_ts"]), UTC)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def register_exercises(
    app: AsyncApp, consult: SlackConsultations, exercises: ExerciseService, deferred: Deferred
) -> SlackExercises:
    h = SlackExercises(consult, exercises)

    async def answer(
        ack: AsyncAck, body: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        deferred.spawn(h.on_answer(body, respond, client), body, client)

    app.action(A.pattern(XB.ANSWER))(answer)
    consult.ack_subcommands["exercise"] = h.ack_command
    previous = consult.home_extra

    async def home(user: str) -> list[Any]:
        blocks = await previous(user) if previous else []
        return blocks + await h.home_blocks(user)

    consult.home_extra = home
    return h
