"""Slack listeners for speaking up and for the compliance case desk.

Reporter side: the report modal (from an outcome or `/ethics report`), `/ethics status`,
answering compliance's questions. Officer side: the buttons on the channel card and their
modals. Every officer action is checked by the case service, never by hiding a button.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import actions as A
from bot.adapters.slack import case_blocks as CB
from bot.adapters.slack.blocks import notice_view, slack_date
from bot.adapters.slack.listeners import Body, Deferred, SlackConsultations, owner_of
from bot.adapters.slack.text import msg
from bot.cases.roles import COMPLIANCE, qualify
from bot.cases.service import CaseService
from bot.service import Refused

log = logging.getLogger(__name__)


def _values(view: Body) -> dict[str, Any]:
    """block_id -> the submitted value of its 'value' element."""
    out: dict[str, Any] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        el = elements.get("value") or {}
        if "selected_option" in el:
            out[block_id] = (el.get("selected_option") or {}).get("value")
        elif "selected_users" in el:
            out[block_id] = list(el.get("selected_users") or [])
        else:
            out[block_id] = el.get("value")
    return out


def _user(body: Body) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def _officer(body: Body) -> str:
    """The clicking user as the case desk stores people: `slack:U…`."""
    return qualify("slack", _user(body))


class SlackCases:
    def __init__(self, consult: SlackConsultations, cases: CaseService) -> None:
        self.c = consult
        self.cases = cases

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- reporter ---------------------------------------------------------------------------

    async def open_report(self, body: Body, client: AsyncWebClient) -> None:
        """From an outcome's 'Report to compliance' button (value = session id)."""
        session_id = A.session_id(body["actions"][0].get("value"))
        lang = await self.c.lang(client, body)
        if session_id is None:
            await self.c.refuse_forged(body, "report", "malformed session id")
            return
        await self.c.show(client, body, CB.report_view(lang, session_id=session_id))

    async def open_report_from_command(self, body: Body, client: AsyncWebClient) -> None:
        lang = await self.c.lang(client, body)
        await client.views_open(
            trigger_id=body["trigger_id"], view=CB.report_view(lang, ask_topic=True)
        )

    async def ack_report(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """The report modal's submission: record the case and answer in the ack."""
        owner = owner_of(body)
        lang = str(await self.call(self.c.service.lang_of, owner) or "en")
        v = _values(view)
        try:
            receipt = await self.call(
                self.cases.escalate_consultation,
                reporter_identity=owner,
                mode=str(v.get("mode") or ""),
                session_id=A.session_id(view.get("private_metadata")),
                submission=f"slack:{view.get('id')}",
                topic=str(v.get("topic") or ""),
                narrative=str(v.get("narrative") or ""),
                excluded=[qualify("slack", u) for u in v.get("exclude") or []],
                passphrase=str(v.get("passphrase") or ""),
            )
        except Refused as exc:
            if exc.key == "duplicate":
                await ack()  # a repeated submission of a report already recorded
                return
            block = {"passphrase_short": "passphrase", "invalid_mode": "mode"}.get(
                exc.key, "narrative"
            )
            await ack(response_action="errors", errors={block: msg(exc.key, lang)})
            return
        card = await self.call(self.cases.card, receipt.case_id)
        await ack(
            response_action="update",
            view=CB.report_done_view(
                lang, receipt.ref, slack_date(card.ack_due, with_time=True), receipt.receipt_code
            ),
        )

    async def open_status(self, body: Body, client: AsyncWebClient) -> None:
        lang = await self.c.lang(client, body)
        named = await self.call(self.cases.named_cases, owner_of(body))
        await client.views_open(
            trigger_id=body["trigger_id"], view=CB.status_login_view(lang, named)
        )

    async def ack_status(self, ack: AsyncAck, body: Body, view: Body) -> None:
        lang = str(await self.call(self.c.service.lang_of, owner_of(body)) or "en")
        v = _values(view)
        try:
            r = await self.call(
                self.cases.reporter_login,
                str(v.get("receipt") or ""),
                str(v.get("passphrase") or ""),
            )
        except Refused as exc:
            await ack(response_action="errors", errors={"passphrase": msg(exc.key, lang)})
            return
        await ack(response_action="update", view=CB.reporter_status_view(r, lang))

    async def ack_answer(self, ack: AsyncAck, body: Body, view: Body) -> None:
        lang = str(await self.call(self.c.service.lang_of, owner_of(body)) or "en")
        v = _values(view)
        try:
            r = await self.call(
                self.cases.reporter_answer,
                str(view.get("private_metadata")),
                str(v.get("answer") or ""),
                owner_of(body),
            )
        except Refused as exc:
            await ack(response_action="errors", errors={"answer": msg(exc.key, lang)})
            return
        await ack(response_action="update", view=CB.reporter_status_view(r, lang))

    async def open_answer_from_dm(self, body: Body, client: AsyncWebClient) -> None:
        case_id = A.session_id(body["actions"][0].get("value"))
        lang = await self.c.lang(client, body)
        try:
            if case_id is None:
                raise Refused("not_yours")
            mine = await self.call(self.cases.reporter_case, case_id, owner_of(body))
        except Refused:
            await self.c.refuse_forged(body, "reporter_answer", "not the reporter")
            await client.views_open(
                trigger_id=body["trigger_id"], view=notice_view(msg("not_yours", lang), lang)
            )
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=CB.reporter_status_view(mine, lang)
        )

    async def on_consent(self, body: Body, client: AsyncWebClient) -> None:
        case_id = A.session_id(body["actions"][0].get("value"))
        lang = await self.c.lang(client, body)
        try:
            if case_id is None:
                raise Refused("not_yours")
            await self.call(self.cases.consent, case_id, owner_of(body))
            text = msg("consent_thanks", lang)
        except Refused as exc:
            text = msg(exc.key, lang)
        await client.chat_postMessage(channel=_user(body), text=text)

    async def home_blocks(self, user: str) -> list[Any]:
        """The compliance queue and figures, for officers only."""
        officer = qualify("slack", user)
        if not self.cases.roles().has(COMPLIANCE, officer):
            return []
        q = await self.call(self.cases.queue, officer)
        figs = await self.call(self.cases.figures)
        return CB.compliance_home(q, figs)

    async def home_unavailable(self, client: AsyncWebClient, user: str) -> None:
        """App Home when the database is not answering: a short notice instead of the stale
        or empty tab Slack would otherwise keep showing. Both languages (the user's choice
        is stored in the database that is down); officers are told their queue is what could
        not be loaded (roles come from roles.yaml, in memory)."""
        officer = self.cases.roles().has(COMPLIANCE, qualify("slack", user))
        key = "home_unavailable_queue" if officer else "home_unavailable"
        view = {
            "type": "home",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": msg(key, lang)}}
                for lang in ("en", "zh")
            ],
        }
        try:
            await client.views_publish(user_id=user, view=view)
        except Exception as exc:  # Slack unreachable too: the log line is all that is left
            log.warning("could not publish the unavailable App Home (%s)", type(exc).__name__)

    # -- officers ---------------------------------------------------------------------------

    async def _refused(self, client: AsyncWebClient, body: Body, exc: Refused) -> None:
        channel = (body.get("channel") or {}).get("id")
        text = msg(exc.key, "en") if exc.key in _KNOWN else msg("error", "en")
        if channel:
            await client.chat_postEphemeral(channel=channel, user=_user(body), text=text)
        elif body.get("trigger_id"):
            await client.views_open(trigger_id=body["trigger_id"], view=notice_view(text, "en"))

    async def on_card_action(self, body: Body, client: AsyncWebClient) -> None:
        action = body["actions"][0]
        action_id = str(action.get("action_id"))
        case_id = A.session_id(
            action.get("value") or (action.get("block_id") or "").removeprefix("assign:")
        )
        officer = _officer(body)
        if case_id is None:
            await self.c.refuse_forged(body, "case", "malformed case id")
            return
        try:
            if action_id == CB.CASE_VIEW:
                view = await self.call(self.cases.view, case_id, officer)
                await client.views_open(trigger_id=body["trigger_id"], view=CB.details_view(view))
            elif action_id in (CB.CASE_ASK, CB.CASE_NOTE, CB.CASE_CLOSE):
                await self.call(self.cases.check, case_id, officer, action_id.rsplit(".", 1)[-1])
                modal = (
                    CB.close_modal(case_id)
                    if action_id == CB.CASE_CLOSE
                    else CB.text_modal(case_id, action_id.rsplit(".", 1)[-1])
                )
                await client.views_open(trigger_id=body["trigger_id"], view=modal)
            else:
                verb, kwargs = {
                    CB.CASE_ACK: ("acknowledge", {}),
                    CB.CASE_ASSIGN_ME: ("assign", {"assignee": officer}),
                    CB.CASE_ASSIGN: (
                        "assign",
                        {"assignee": qualify("slack", str(action.get("selected_user")))},
                    ),
                    CB.CASE_REOPEN: ("reopen", {}),
                }[action_id]
                await self.call(self.cases.act, case_id, officer, verb, **kwargs)
        except Refused as exc:
            await self._refused(client, body, exc)

    async def ack_case_text(self, ack: AsyncAck, body: Body, view: Body) -> None:
        kind, _, case_id = str(view.get("private_metadata") or "").partition(":")
        text = str(_values(view).get("text") or "")
        try:
            await self.call(self.cases.act, case_id, _officer(body), kind, text=text)
        except Refused as exc:
            await ack(response_action="errors", errors={"text": msg(exc.key, "en")})
            return
        await ack()

    async def ack_case_close(self, ack: AsyncAck, body: Body, view: Body) -> None:
        v = _values(view)
        try:
            await self.call(
                self.cases.act,
                str(view.get("private_metadata")),
                _officer(body),
                "close",
                outcome=str(v.get("outcome") or ""),
                text=str(v.get("text") or ""),
            )
        except Refused as exc:
            await ack(response_action="errors", errors={"text": msg(exc.key, "en")})
            return
        await ack()


_KNOWN = {
    "not_officer",
    "excluded",
    "case_closed",
    "case_stale",
    "empty",
    "gone",
    "not_officer_target",
}


def register_cases(
    app: AsyncApp, consult: SlackConsultations, cases: CaseService, deferred: Deferred
) -> SlackCases:
    h = SlackCases(consult, cases)

    after_ack = deferred.after_ack
    app.action(A.REPORT)(after_ack(h.open_report))
    app.view(CB.REPORT_VIEW)(h.ack_report)
    app.view(CB.STATUS_VIEW)(h.ack_status)
    app.view(CB.ANSWER_VIEW)(h.ack_answer)
    app.action(CB.REPORTER_ANSWER)(after_ack(h.open_answer_from_dm))
    app.action(CB.REPORTER_CONSENT)(after_ack(h.on_consent))
    for action_id in (
        CB.CASE_ACK,
        CB.CASE_ASSIGN_ME,
        CB.CASE_ASSIGN,
        CB.CASE_VIEW,
        CB.CASE_ASK,
        CB.CASE_NOTE,
        CB.CASE_CLOSE,
        CB.CASE_REOPEN,
    ):
        app.action(action_id)(after_ack(h.on_card_action))
    app.view(CB.CASE_TEXT_VIEW)(h.ack_case_text)
    app.view(CB.CASE_CLOSE_VIEW)(h.ack_case_close)
    consult.subcommands["report"] = h.open_report_from_command
    consult.subcommands["status"] = h.open_status
    consult.home_extra = h.home_blocks
    consult.home_unavailable = h.home_unavailable
    return h
