"""The Slack deliverer: carries outbox rows for Slack to the compliance channel, exactly once.

Plugged into the generic worker (bot/delivery/worker.py), which claims, leases, backs off and
logs. Slack's chat.postMessage has no idempotency key, so each case card carries the outbox
id in its message metadata: when a row comes back for another attempt (the previous one may
have reached Slack before the process died) the channel history is searched for that id
first. 429s wait for Retry-After; other failures back off exponentially.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import case_blocks as CB
from bot.adapters.slack import exercise_blocks as XB
from bot.adapters.slack import reflection_blocks as RB
from bot.adapters.slack.text import msg
from bot.bootstrap import Services
from bot.delivery.outbox import Job, Kind
from bot.delivery.worker import NotYet, Retry

log = logging.getLogger(__name__)

METADATA_TYPE = "ethicsbot_case"
PLATFORM = "slack"


def _user(identity: str | None) -> str | None:
    return identity.rsplit(":", 1)[-1] if identity and identity.startswith("slack:") else None


class SlackDeliverer:
    """The `Deliverer` for Slack: one Web API call (or a reconciliation) per outbox row."""

    platform = PLATFORM

    def __init__(self, services: Services, client: AsyncWebClient) -> None:
        self.s = services
        self.client = client

    async def deliver(self, job: Job) -> dict[str, str]:
        handlers: dict[Kind, Callable[[Job], Awaitable[dict[str, str]]]] = {
            Kind.CASE_CARD: self._case_card,
            Kind.CARD_UPDATE: self._card_update,
            Kind.REMINDER: self._reminder,
            Kind.RELAY_QUESTION: self._relay_question,
            Kind.NOTIFY_ASSIGNEE: self._notify_assignee,
            Kind.EXERCISE_POST: self._exercise_post,
            Kind.EXERCISE_REVEAL: self._exercise_reveal,
            Kind.MONTHLY_REPORT: self._monthly_report,
            Kind.REFLECTION_ASK: self._reflection_ask,
        }
        try:
            return await handlers[job.kind](job)
        except SlackApiError as exc:
            status = exc.response.status_code
            retry_after = exc.response.headers.get("Retry-After") if exc.response.headers else None
            after = timedelta(seconds=int(retry_after)) if status == 429 and retry_after else None
            raise Retry(f"slack {status} {exc.response.get('error')}", after) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Retry(type(exc).__name__) from None

    async def _case_card(self, job: Job) -> dict[str, str]:
        assert job.case_id is not None
        case = await asyncio.to_thread(self.s.cases.card, job.case_id)
        if PLATFORM in case.card:
            return case.card[PLATFORM]
        channel = str(job.payload.get("destination") or self.s.settings.compliance_slack_channel)
        if not channel:
            raise NotYet("no compliance destination configured (COMPLIANCE_SLACK_CHANNEL)")
        if job.attempts > 1:
            found = await self._find_posted(channel, job, METADATA_TYPE)
            if found:
                log.info("outbox %s: card already in the channel; not posting again", job.id)
                await asyncio.to_thread(self.s.cases.set_card, job.case_id, PLATFORM, found)
                return found
        resp = await self.client.chat_postMessage(
            channel=channel,
            text=CB.card_fallback(case),
            blocks=CB.card_blocks(case),
            metadata={
                "event_type": METADATA_TYPE,
                "event_payload": {"outbox_id": job.id, "ref": case.ref},
            },
        )
        card = {"channel": str(resp["channel"]), "ts": str(resp["ts"])}
        await asyncio.to_thread(self.s.cases.set_card, job.case_id, PLATFORM, card)
        return card

    async def _find_posted(
        self, channel: str, job: Job, event_type: str, thread_ts: str | None = None
    ) -> dict[str, str] | None:
        """Our message for this outbox row, if an earlier attempt did reach Slack."""
        oldest = f"{(job.created_at - timedelta(minutes=5)).timestamp():.6f}"
        cursor = None
        for _ in range(10):  # bounded: 10 pages of 200 messages
            if thread_ts:
                resp = await self.client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                resp = await self.client.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            messages: list[dict[str, Any]] = resp.get("messages", [])
            for m in messages:
                meta = m.get("metadata") or {}
                if (
                    meta.get("event_type") == event_type
                    and (meta.get("event_payload") or {}).get("outbox_id") == job.id
                ):
                    return {"channel": channel, "ts": str(m["ts"])}
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _card_update(self, job: Job) -> dict[str, str]:
        assert job.case_id is not None
        case = await asyncio.to_thread(self.s.cases.card, job.case_id)
        where = case.card.get(PLATFORM)
        if not where:
            raise NotYet("the card is not posted yet")
        await self.client.chat_update(
            channel=where["channel"],
            ts=where["ts"],
            text=CB.card_fallback(case),
            blocks=CB.card_blocks(case),
        )
        return where

    async def _reminder(self, job: Job) -> dict[str, str]:
        assert job.case_id is not None
        case = await asyncio.to_thread(self.s.cases.card, job.case_id)
        where = case.card.get(PLATFORM)
        if not where:
            raise NotYet("the card is not posted yet")
        text = CB.reminder_text(case, str(job.payload["clock"]), str(job.payload["point"]))
        await self.client.chat_postMessage(
            channel=where["channel"], thread_ts=where["ts"], text=text
        )
        assignee = _user(case.assignee)  # a Teams assignee hears it from the Teams desk
        if assignee:
            await self.client.chat_postMessage(channel=assignee, text=text)
        return {"sent": "reminder"}

    async def _relay_question(self, job: Job) -> dict[str, str]:
        assert job.case_id is not None
        identity = await asyncio.to_thread(self.s.cases.reporter_of, job.case_id)
        reporter = _user(identity)
        if identity is None or reporter is None:
            return {"sent": "held for the anonymous reporter"}  # they read it via /ethics status
        lang = await asyncio.to_thread(self.s.consult.lang_of, identity) or "en"
        case = await asyncio.to_thread(self.s.cases.card, job.case_id)
        question = await asyncio.to_thread(self.s.cases.last_question, job.case_id)
        await self.client.chat_postMessage(
            channel=reporter,
            text=msg("question_for_you", lang, ref=case.ref),
            blocks=CB.question_message(
                case.ref, question, case.id, confidential=case.mode == "confidential", lang=lang
            ),
        )
        return {"sent": "dm"}

    async def _notify_assignee(self, job: Job) -> dict[str, str]:
        assert job.case_id is not None
        case = await asyncio.to_thread(self.s.cases.card, job.case_id)
        where = case.card.get(PLATFORM)
        if case.assignee and _user(case.assignee) is None:
            return {"sent": "the assignee works from another desk"}
        target = _user(case.assignee) or (where or {}).get("channel")
        if not target:
            raise NotYet("nobody to notify yet")
        thread = where["ts"] if not case.assignee and where else None
        await self.client.chat_postMessage(
            channel=target,
            thread_ts=thread,
            text=":envelope: " + msg("reporter_answered", "en", ref=case.ref),
        )
        return {"sent": "notified"}

    async def _exercise_post(self, job: Job) -> dict[str, str]:
        post_id = str(job.payload["post_id"])
        post = await asyncio.to_thread(self.s.exercises.post, post_id)
        if post.message:
            return post.message
        found = None
        if job.attempts > 1:
            found = await self._find_posted(post.channel, job, XB.POST_EVENT)
        if found is None:
            resp = await self.client.chat_postMessage(
                channel=post.channel,
                text=XB.fallback(post.exercise),
                blocks=XB.post_blocks(post),
                metadata={
                    "event_type": XB.POST_EVENT,
                    "event_payload": {"outbox_id": job.id, "post_id": post_id},
                },
            )
            found = {"channel": str(resp["channel"]), "ts": str(resp["ts"])}
        await asyncio.to_thread(self.s.exercises.mark, post_id, "posted", found)
        return found

    async def _exercise_reveal(self, job: Job) -> dict[str, str]:
        post_id = str(job.payload["post_id"])
        post = await asyncio.to_thread(self.s.exercises.post, post_id)
        if not post.message:
            raise NotYet("the exercise post is not delivered yet")
        channel, ts = post.message["channel"], post.message["ts"]
        await self.client.chat_update(
            channel=channel, ts=ts, text=XB.fallback(post.exercise), blocks=XB.closed_blocks(post)
        )
        found = None
        if job.attempts > 1:
            found = await self._find_posted(channel, job, XB.REVEAL_EVENT, thread_ts=ts)
        if found is None:
            titles = await asyncio.to_thread(self.s.consult.clause_titles, "zh")
            await self.client.chat_postMessage(
                channel=channel,
                thread_ts=ts,
                text="答案揭晓 · The answer",
                blocks=XB.reveal_blocks(post, titles),
                metadata={
                    "event_type": XB.REVEAL_EVENT,
                    "event_payload": {"outbox_id": job.id, "post_id": post_id},
                },
            )
        await self._reveal_chart(job, post_id, channel, ts)
        await asyncio.to_thread(self.s.exercises.mark, post_id, "revealed")
        return {"channel": channel, "ts": ts}

    async def _reveal_chart(self, job: Job, post_id: str, channel: str, ts: str) -> None:
        """The answer distribution as a picture in the reveal's thread (none under five)."""
        chart = await asyncio.to_thread(self.s.reports.reveal_chart, post_id, "zh")
        if chart is None:
            return
        name = f"ethicsbot-exercise-{post_id[:8]}-{job.id}.png"
        if job.attempts > 1 and await self._find_file(channel, name, thread_ts=ts):
            return
        await self.client.files_upload_v2(
            channel=channel,
            thread_ts=ts,
            file_uploads=[
                {
                    "content": chart.png,
                    "filename": name,
                    "title": "答案分布 · Answers",
                    "alt_txt": chart.alt,
                }
            ],
        )

    async def _monthly_report(self, job: Job) -> dict[str, str]:
        """The monthly KPIs as a chart plus the same numbers as CSV, uploaded to the
        compliance channel through Slack's file upload API (no public URL: works for Socket
        Mode banks and closed networks). File names carry the outbox id, so a retry after a
        crash finds an upload that did complete instead of posting it twice."""
        channel = self.s.settings.compliance_slack_channel
        if not channel:
            raise NotYet("no compliance destination configured (COMPLIANCE_SLACK_CHANNEL)")
        month = str(job.payload["month"])
        base = f"ethicsbot-report-{month}-{job.id}"
        if job.attempts > 1 and await self._find_file(channel, f"{base}.png"):
            return {"channel": channel, "sent": "already uploaded"}
        files = await asyncio.to_thread(self.s.reports.monthly_files, month, "en")
        await self.client.files_upload_v2(
            channel=channel,
            initial_comment=msg("monthly_report", "en", month=month),
            file_uploads=[
                {
                    "content": files.png,
                    "filename": f"{base}.png",
                    "title": files.title,
                    "alt_txt": files.alt,
                },
                {"content": files.csv, "filename": f"{base}.csv", "title": f"{files.title} (CSV)"},
            ],
        )
        return {"channel": channel, "sent": "uploaded"}

    async def _find_file(self, channel: str, name: str, thread_ts: str | None = None) -> bool:
        """Whether a file of that name is already in the channel (or thread): bounded search."""
        cursor = None
        for _ in range(10):
            if thread_ts:
                resp = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=200, cursor=cursor
                )
            else:
                resp = await self.client.conversations_history(
                    channel=channel, limit=200, cursor=cursor
                )
            messages: list[dict[str, Any]] = resp.get("messages", [])
            for m in messages:
                if any(f.get("name") == name for f in m.get("files") or []):
                    return True
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False
        return False

    async def _reflection_ask(self, job: Job) -> dict[str, str]:
        """The follow-up DM. Re-checked at delivery: a consultation purged or a person who
        opted out since the row was queued gets nothing."""
        session_id = str(job.payload["session_id"])
        ask = await asyncio.to_thread(self.s.reflection.pending, session_id)
        if ask is None:
            return {"sent": "skipped"}
        user = _user(ask.address)
        if user is None:  # not a Slack identity: nobody to reach here
            await asyncio.to_thread(self.s.reflection.drop, session_id)
            return {"sent": "skipped"}
        if job.attempts > 1 and job.last_error is None:
            # the previous claimant vanished mid-delivery: the DM may have gone. A DM cannot
            # be looked up without im:history, and asking twice is worse than once too few,
            # so it counts as asked (the buttons of a DM that did arrive still work)
            log.info("outbox %s: follow-up may have been sent already; not repeating", job.id)
            await asyncio.to_thread(self.s.reflection.mark_asked, session_id)
            return {"sent": "maybe (not repeated)"}
        await self.client.chat_postMessage(
            channel=user, text=RB.ask_fallback(ask), blocks=RB.ask_blocks(ask)
        )
        await asyncio.to_thread(self.s.reflection.mark_asked, session_id)
        return {"sent": "dm"}
