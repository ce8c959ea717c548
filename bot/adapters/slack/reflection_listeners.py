"""Slack listeners for the reflection follow-up: open the questions, take the answer, opt out.

The DM itself is sent by the Slack deliverer from the outbox. Everything arriving here is
re-checked by the reflection service (the session id in a button is untrusted input; the
answer is accepted only from the person whose consultation it was).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import actions as A
from bot.adapters.slack import reflection_blocks as RB
from bot.adapters.slack.blocks import notice_view
from bot.adapters.slack.listeners import Body, Deferred, SlackConsultations, owner_of
from bot.adapters.slack.text import msg
from bot.reflection.service import ReflectionService, Submission, parse_submission
from bot.service import Refused

log = logging.getLogger(__name__)


def _choice(view: Body, block_id: str) -> str:
    values = (view.get("state") or {}).get("values") or {}
    el = (values.get(block_id) or {}).get("value") or {}
    if "selected_option" in el:
        return str((el.get("selected_option") or {}).get("value") or "")
    return str(el.get("value") or "")


class SlackReflection:
    def __init__(self, consult: SlackConsultations, reflection: ReflectionService) -> None:
        self.c = consult
        self.r = reflection

    async def on_open(self, body: Body, client: AsyncWebClient) -> None:
        """'Answer' in the DM: the questions in a modal (private, proper input fields)."""
        session_id = A.session_id(body["actions"][0].get("value"))
        if session_id is None:
            await self.c.refuse_forged(body, "reflect", "malformed session id")
            return
        lang = await self.c.lang(client, body)
        await client.views_open(
            trigger_id=body["trigger_id"], view=RB.answer_view(session_id, lang)
        )

    async def ack_answer(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """The modal's submission, answered in the ack: thanks, and at once the way to
        compliance when it turned out worse."""
        owner = owner_of(body)
        lang = str(await asyncio.to_thread(self.c.service.lang_of, owner) or "en")
        sub = parse_submission(
            view.get("private_metadata"),
            turned_out=_choice(view, RB.TURNED_OUT_BLOCK),
            same_again=_choice(view, RB.SAME_BLOCK),
            learned=_choice(view, RB.LEARNED_BLOCK),
        )
        if sub == "session":
            await self.c.refuse_forged(body, "reflect", "malformed view metadata")
            await ack(response_action="errors", errors={RB.TURNED_OUT_BLOCK: "—"})
            return
        if not isinstance(sub, Submission):
            block = RB.SAME_BLOCK if sub == "same_again" else RB.TURNED_OUT_BLOCK
            await ack(response_action="errors", errors={block: msg("reflect_pick", lang)})
            return
        try:
            answered = await asyncio.to_thread(
                self.r.answer,
                owner,
                sub.session_id,
                turned_out=sub.turned_out,
                same_again=sub.same_again,
                learned=sub.learned,
            )
        except Refused as exc:
            if exc.key == "invalid":
                await ack(
                    response_action="errors",
                    errors={RB.TURNED_OUT_BLOCK: msg("reflect_pick", lang)},
                )
                return
            if exc.key == "not_yours":
                await self.c.refuse_forged(body, "reflect", "not the owner")
            key = "reflect_gone" if exc.key == "gone" else exc.key
            await ack(response_action="update", view=notice_view(msg(key, lang), lang))
            return
        await ack(response_action="update", view=RB.thanks_view(answered, lang))

    async def on_stop(self, body: Body, respond: AsyncRespond, client: AsyncWebClient) -> None:
        """'Don't ask me again', from the DM (the message is replaced) or from App Home."""
        lang = await self.c.lang(client, body)
        await asyncio.to_thread(self.r.opt_out, owner_of(body))
        text = msg("reflect_opted_out", lang)
        if (body.get("container") or {}).get("type") == "message" and body.get("response_url"):
            await respond(text=text, replace_original=True)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=notice_view(text, lang))


def register_reflection(
    app: AsyncApp, consult: SlackConsultations, reflection: ReflectionService, deferred: Deferred
) -> SlackReflection:
    h = SlackReflection(consult, reflection)

    async def stop(
        ack: AsyncAck, body: Body, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        deferred.spawn(h.on_stop(body, respond, client), body, client)

    app.action(RB.OPEN)(deferred.after_ack(h.on_open))
    app.action(RB.STOP)(stop)
    app.view(RB.VIEW)(h.ack_answer)
    previous = consult.home_extra

    async def home(user: str) -> list[Any]:
        blocks = await previous(user) if previous else []
        return blocks + RB.home_blocks()

    consult.home_extra = home
    return h
