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
from bot.adapters.slack.text import mrkdwn, msg
from bot.cases.roles import TRAINER, qualify, split_identity
from bot.exercises import commands
from bot.exercises.service import ExerciseService
from bot.reports.service import ReportService
from bot.service import Refused

log = logging.getLogger(__name__)


class SlackExercises:
    def __init__(
        self,
        consult: SlackConsultations,
        exercises: ExerciseService,
        reports: ReportService,
        deferred: Deferred,
        client: AsyncWebClient,
    ) -> None:
        self.c = consult
        self.x = exercises
        self.reports = reports
        self.deferred = deferred
        self.client = client

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
        if commands.wants_results(words):
            await self.ack_results(ack, user, lang)
            return
        try:
            text = await asyncio.to_thread(
                commands.run,
                self.x,
                words,
                trainer=user,
                platform="slack",
                channel=str(body.get("channel_id")),
                lang=lang,
                where=lambda channel: f"<#{channel}>",
            )
            text = mrkdwn(text)
        except Refused as exc:
            text = msg(exc.key, lang, detail=str(exc))
        await ack(text=text or msg("exercise_help", lang), response_type="ephemeral")

    async def ack_results(self, ack: AsyncAck, user: str, lang: str) -> None:
        """Trainers only, checked before the ack says anything; the chart (drawing takes a
        moment, more than an ack may) then goes to the trainer's DM, not to the channel."""
        try:
            await asyncio.to_thread(self.x.require_trainer, user, "results", "exercises")
        except Refused as exc:
            await ack(text=msg(exc.key, lang, detail=str(exc)), response_type="ephemeral")
            return
        await ack(text=msg("exercise_results_coming", lang), response_type="ephemeral")
        self.deferred.spawn(self.send_results(user, lang))

    async def send_results(self, user: str, lang: str) -> None:
        files = await asyncio.to_thread(self.reports.exercise_results, user, lang)
        _, user_id = split_identity(user)
        dm = await self.client.conversations_open(users=user_id)
        channel = str(dm["channel"]["id"])
        if files is None:
            await self.client.chat_postMessage(
                channel=channel, text=msg("exercise_results_none", lang)
            )
            return
        stem = f"ethicsbot-exercises-{files.month.replace('..', '-to-')}"
        await self.client.files_upload_v2(
            channel=channel,
            initial_comment=msg(
                "exercise_results_caption", lang, title=files.title, period=files.month
            ),
            file_uploads=[
                {"content": files.png, "filename": f"{stem}.png", "title": files.title,
                 "alt_txt": files.alt},
                {"content": files.csv, "filename": f"{stem}.csv", "title": f"{files.title} (CSV)"},
            ],
        )  # fmt: skip

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
    app: AsyncApp,
    consult: SlackConsultations,
    exercises: ExerciseService,
    deferred: Deferred,
    reports: ReportService,
) -> SlackExercises:
    h = SlackExercises(consult, exercises, reports, deferred, app.client)

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
