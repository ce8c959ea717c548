"""The Teams deliverer's case-desk and exercise kinds (registered in delivery.HANDLERS).

Exactly once. The Bot Connector has no idempotency key and no way to read a channel back, so
the Slack trick (find our message by its metadata after an ambiguous failure) is not open
to us. What we do instead:
- the posted activity id is stored (`CaseService.set_card` / `ExerciseService.mark`) right
  after the connector accepts the post, and a row whose card is stored is never posted again
  (a crash after the store, a redelivered row, a second instance: all see it);
- before each post a `pending` marker with the outbox id is stored. The connector client
  retries inline only what Teams certainly did not take (no connection, 429, 503); when it
  gives up on those it raises a plain `Retry`, Teams said no, and the marker is cleared
  (`_definite_no`). Anything else that ends a POST without an id (a time-out, a connection
  dropped after the request went out, a 500/502/504) raises `Unanswered` and the marker
  survives.
- a timed-out POST is not abandoned: the client keeps listening for the connector's late
  answer (ETHICSBOT_TEAMS_LATE_WINDOW, default 90 s) and hands a late id to the caller's
  `late` callback, which stores it as a prompt answer is stored (`set_card` / `mark`) and
  logs it (outbox id only) — unless an id is stored already, which the store itself decides
  under the row's lock (`unless_posted` / `unless_settled`), so a late id never replaces one
  another attempt stored, and of two late ids only one is kept. `Unanswered` holds the row
  back past that window, so the next attempt, on any instance, normally finds the stored id
  and posts nothing.
- only if no id was ever heard (the process died mid-call, the answer never came, or a
  dropped connection / 5xx) does the next attempt see the surviving marker: it then posts a
  case card that says an earlier attempt was interrupted — the one window that remains, made
  visible to the officers instead of silent — while an exercise post or reveal is not posted
  again at all (`send_once(repeat=False)`): the post is recorded as `unknown`, its answers
  still count if it arrived, and its reveal goes to the channel as a new message. This is
  the Teams counterpart of Slack's metadata marker.
- the stored id and the worker's done() are two transactions; a crash between them is
  harmless, because the next claimant finds the stored id and returns it.
Card updates are PUTs of the stored activity, so every viewer sees the new state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.adapters.teams import case_cards as CC
from bot.adapters.teams import exercise_cards as XC
from bot.adapters.teams.cards import Card, message
from bot.adapters.teams.connector import ConnectorError, Unanswered
from bot.adapters.teams.references import ConversationRef
from bot.adapters.teams.reports import fitted
from bot.delivery.outbox import Job, Kind
from bot.delivery.worker import NotYet, Retry
from bot.messages import msg as neutral
from bot.service import Refused

if TYPE_CHECKING:
    from bot.adapters.teams.delivery import Handler, TeamsDeliverer
    from bot.reports.charts import Size

log = logging.getLogger(__name__)

PLATFORM = "teams"


def _aad(identity: str | None) -> str | None:
    """The Entra object id of a `teams:…` identity; None for another platform's."""
    if not identity or not identity.startswith("teams:"):
        return None
    return identity.rsplit(":", 1)[-1] or None


def _definite_no(exc: Retry) -> bool:
    """Teams certainly did not take the post (no connection, 429, 503): the connector client
    raises `Unanswered` for everything else (a time-out, a dropped connection, another 5xx)."""
    return not isinstance(exc, Unanswered)


def _text(body: str, mention: str | None = None) -> dict[str, Any]:
    """A plain message activity (Teams markdown); optionally @mentioning one Teams user by
    their Entra object id, so the reminder reaches the assignee in the card's thread."""
    activity: dict[str, Any] = {"type": "message", "textFormat": "markdown", "text": body}
    if mention:
        tag = "<at>assignee</at>"
        activity["text"] = f"{tag} {body}"
        activity["entities"] = [
            {"type": "mention", "text": tag, "mentioned": {"id": mention, "name": "assignee"}}
        ]
    return activity


async def compliance_conversation(d: TeamsDeliverer) -> str:
    """The Teams desk's conversation id, or NotYet with what the operator must set."""
    teams = d.s.settings.teams
    conversation = teams.compliance_conversation if teams is not None else ""
    if not conversation:
        raise NotYet(
            "no Teams compliance conversation configured (set COMPLIANCE_TEAMS_CONVERSATION "
            "to the compliance channel's conversation id)"
        )
    return conversation


Save = Callable[[dict[str, str]], Awaitable[None]]


async def send_once(
    job: Job,
    stored: dict[str, str],
    save: Save,
    send: Callable[[bool], Awaitable[str]],
    *,
    marker: str = "pending",
    repeat: bool = True,
) -> str | None:
    """The pending-marker protocol (see the module docstring), for any one post.

    `stored` is what the row's target holds now and `save` replaces it. The marker (the
    outbox id under `marker`) is saved before `send`; a definite no from Teams clears it.
    When an earlier attempt left it (the result is unknown: it may be in the conversation),
    `send(True)` posts again visibly marked as a repeat if `repeat`, else nothing is sent and
    None is returned — the caller records the unknown result instead of posting twice.
    Returns the new activity id. The caller stores it at once: a stored id is never posted
    again, and the worker's done() follows (a crash between them re-finds the stored id)."""
    interrupted = bool(stored.get(marker))
    if interrupted and not repeat:
        return None
    before = {k: v for k, v in stored.items() if k != marker}
    await save({**stored, marker: str(job.id)})
    try:
        return await send(interrupted)
    except Retry as exc:
        if _definite_no(exc) and not interrupted:
            await save(before)
        raise
    except ConnectorError:
        await save(before)
        raise


async def case_card(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    assert job.case_id is not None
    case_id = job.case_id
    conversation = await compliance_conversation(d)
    try:
        case = await asyncio.to_thread(d.s.cases.card, case_id)
    except Refused:  # the case is gone (retention): nothing left to show
        return {"skipped": "no such case"}
    where = case.card.get(PLATFORM) or {}
    if where.get("activity"):
        return dict(where)  # posted already (this row or another instance): never twice
    ref = await d.reference(conversation)

    async def save(value: dict[str, str]) -> None:
        # a marker is kept with where it went; a cleared one leaves no location at all
        located = {**value, "conversation": ref.conversation_id} if value else {}
        await asyncio.to_thread(d.s.cases.set_card, case_id, PLATFORM, located)

    def located(activity_id: str) -> dict[str, str]:
        return {
            "conversation": ref.conversation_id,
            "activity": activity_id,
            "service_url": ref.service_url,
        }

    async def late(activity_id: str) -> None:
        # Teams answered after the time-out: store the id the way a prompt answer is stored,
        # so the row's next attempt finds it and posts nothing — unless a card is stored
        # already, checked in the storing transaction (another instance may store meanwhile)
        stored = await asyncio.to_thread(
            d.s.cases.set_card, case_id, PLATFORM, located(activity_id), unless_posted=True
        )
        if not stored:
            log.warning("outbox %s: late answer for a case card already stored", job.id)
            return
        log.info("outbox %s: late answer from Teams; case card id stored", job.id)

    async def send(interrupted: bool) -> str:
        card = CC.case_card(case, repeat=interrupted)
        return await d.client.send(
            ref.service_url, ref.conversation_id, message(card, CC.summary(case)), late=late
        )

    stored = {"pending": where["pending"]} if where.get("pending") else {}
    try:
        activity_id = await send_once(job, stored, save, send)
    except ConnectorError as exc:
        raise NotYet(
            f"Teams refused the case card (HTTP {exc.status}): is EthicsBot still a member of "
            "the compliance channel?"
        ) from None
    assert activity_id is not None  # repeat=True: always sent
    location = located(activity_id)
    await asyncio.to_thread(d.s.cases.set_card, case_id, PLATFORM, location)
    return location


async def _posted(d: TeamsDeliverer, case_id: str) -> tuple[Any, dict[str, str]]:
    case = await asyncio.to_thread(d.s.cases.card, case_id)
    where = case.card.get(PLATFORM) or {}
    if not where.get("activity"):
        raise NotYet("the Teams case card is not posted yet")
    return case, where


async def card_update(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Replace the channel card for everyone (the clicker's own copy included)."""
    assert job.case_id is not None
    case, where = await _posted(d, job.case_id)
    service_url = where.get("service_url") or (await d.reference(where["conversation"])).service_url
    await d.client.update(
        service_url,
        where["conversation"],
        where["activity"],
        message(CC.case_card(case), CC.summary(case)),
    )
    return {"conversation": where["conversation"], "activity": where["activity"]}


async def _assignee_chat(d: TeamsDeliverer, assignee: str | None) -> ConversationRef | None:
    """The Teams assignee's personal chat with the bot, if they ever wrote to it or installed
    it (bot/adapters/teams/cases.py `officer_chat`); None otherwise."""
    from bot.adapters.teams.personal import personal_chats

    if not assignee or _aad(assignee) is None:
        return None
    chat = await asyncio.to_thread(personal_chats(d.s).get, assignee)
    if not chat:
        return None
    try:
        return await d.reference(chat)
    except NotYet:  # the chat's reference was never stored: the thread mention remains
        return None


async def reminder(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Into the card's thread, @mentioning the assignee when they work from Teams, and, as
    Slack sends a DM, into the assignee's personal chat when it is known. The thread reply is
    the record; the personal copy is best effort (a failure there is logged, not retried,
    so a retry never repeats the thread reply)."""
    assert job.case_id is not None
    case, where = await _posted(d, job.case_id)
    text = CC.reminder_text(case, str(job.payload["clock"]), str(job.payload["point"]))
    service_url = where.get("service_url") or (await d.reference(where["conversation"])).service_url
    await d.client.reply(
        service_url, where["conversation"], where["activity"], _text(text, _aad(case.assignee))
    )
    ref = await _assignee_chat(d, case.assignee)
    if ref is None:
        return {"sent": "reminder in the card's thread"}
    try:
        await d.client.send(ref.service_url, ref.conversation_id, _text(text))
    except (Retry, ConnectorError) as exc:
        log.warning("teams reminder: personal copy not delivered (%s)", type(exc).__name__)
        return {"sent": "reminder in the card's thread"}
    return {"sent": "reminder in the card's thread and the assignee's personal chat"}


async def notify_assignee(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """The reporter answered: tell the assignee in their personal chat when it is known (as
    Slack sends a DM), else in the card's thread @mentioning a Teams assignee. Only the case
    reference: the answer itself stays in View details."""
    assert job.case_id is not None
    case, where = await _posted(d, job.case_id)
    if case.assignee and _aad(case.assignee) is None:
        return {"sent": "the assignee works from another desk"}
    text = "✉️ " + neutral("reporter_answered", "en", ref=case.ref)
    ref = await _assignee_chat(d, case.assignee)
    if ref is not None:
        await d.client.send(ref.service_url, ref.conversation_id, _text(text))
        return {"sent": "the assignee's personal chat"}
    service_url = where.get("service_url") or (await d.reference(where["conversation"])).service_url
    await d.client.reply(
        service_url, where["conversation"], where["activity"], _text(text, _aad(case.assignee))
    )
    return {"sent": "notified in the card's thread"}


async def relay_question(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Compliance asked a Teams reporter something: into the personal chat kept under the
    named or confidential reporter's pseudonym when they filed or consulted (personal.py),
    never a chat stored with the case. A confidential reporter's card offers consent.
    Anonymous reporters: held (they read it with `status`; nothing may reach them by name)."""
    from bot.adapters.teams.personal import personal_chats

    assert job.case_id is not None
    identity = await asyncio.to_thread(d.s.cases.reporter_of, job.case_id)
    if identity is None:
        return {"sent": "held for the anonymous reporter (read with status)"}
    case = await asyncio.to_thread(d.s.cases.card, job.case_id)
    chat = None
    if _aad(identity) is not None:
        chat = await asyncio.to_thread(personal_chats(d.s).get, identity)
    if not chat:
        return {"sent": "held: no personal chat known (the reporter reads it with status)"}
    ref = await d.reference(chat)
    lang = await asyncio.to_thread(d.s.consult.lang_of, identity) or "en"
    question = await asyncio.to_thread(d.s.cases.last_question, job.case_id)
    card = CC.question_card(
        case.ref, question, case.id, lang, confidential=case.mode == "confidential"
    )
    await d.client.send(ref.service_url, ref.conversation_id, message(card, case.ref))
    return {"sent": "personal chat"}


async def exercise_post(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """The channel post, never twice: an attempt whose result is unknown (it ended without
    Teams' answer) is recorded as `unknown` instead of posted again; people can answer the
    post if it did arrive, and the reveal then goes to the channel as a new message."""
    post_id = str(job.payload["post_id"])
    post = await asyncio.to_thread(d.s.exercises.post, post_id)
    if post.message.get("activity") or post.message.get("unknown"):
        return dict(post.message)
    conversation = await asyncio.to_thread(d.conversations.get, post.channel)
    if conversation is None:
        raise NotYet(neutral("teams_not_in_channel", "en"))
    ref = await d.reference(post.channel)
    where = {"conversation": ref.conversation_id, "service_url": ref.service_url}

    async def save(value: dict[str, str]) -> None:
        await asyncio.to_thread(d.s.exercises.mark, post_id, post.status, value)

    async def late(activity_id: str) -> None:
        # the answer came after the time-out: stored as a prompt one would be, so the next
        # attempt finds it (an `unknown` recorded meanwhile becomes known) — unless the post
        # is settled, checked in the storing transaction (another instance may store meanwhile)
        found = {**where, "activity": activity_id}
        stored = await asyncio.to_thread(
            d.s.exercises.mark, post_id, "posted", found, unless_settled=True
        )
        if not stored:
            log.warning("outbox %s: late answer for an exercise post already settled", job.id)
            return
        log.info("outbox %s: late answer from Teams; exercise post id stored", job.id)

    async def send(_interrupted: bool) -> str:
        return await d.client.send(
            ref.service_url,
            ref.conversation_id,
            message(XC.post_card(post), XC.summary(post.exercise)),
            late=late,
        )

    try:
        activity_id = await send_once(job, {**where, **post.message}, save, send, repeat=False)
    except ConnectorError as exc:
        raise NotYet(
            f"Teams refused the exercise post (HTTP {exc.status}): is EthicsBot still a "
            "member of that channel?"
        ) from None
    if activity_id is None:
        log.warning(
            "outbox %s: an earlier attempt to post exercise %s ended without an answer; "
            "not posting it twice",
            job.id,
            post_id[:8],
        )
        found = {**where, "unknown": str(job.id)}
    else:
        found = {**where, "activity": activity_id}
    await asyncio.to_thread(d.s.exercises.mark, post_id, "posted", found)
    return found


async def exercise_reveal(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Close the post for everyone (PUT), then reply the answer into its thread — or, when
    the post's own delivery is unknown, as a new message in the channel. The reply follows
    the same never-twice protocol as the post (marker `reveal_pending`)."""
    post_id = str(job.payload["post_id"])
    post = await asyncio.to_thread(d.s.exercises.post, post_id)
    where = dict(post.message)
    if not where.get("activity") and not where.get("unknown"):
        raise NotYet("the exercise post is not delivered yet")
    service_url = where.get("service_url") or (await d.reference(where["conversation"])).service_url
    if where.get("activity"):
        await d.client.update(
            service_url,
            where["conversation"],
            where["activity"],
            message(XC.closed_card(post), XC.summary(post.exercise)),
        )
    if post.status != "revealed":
        clauses = d.s.content.content.clauses
        titles = {k: v.title.zh for k, v in clauses.clauses.items()} if clauses else {}

        def build(size: Size | None) -> Card:
            # the chart in Chinese, as in Slack: the reveal reads Chinese first
            chart = d.s.reports.reveal_chart(post_id, "zh", size) if size is not None else None
            return XC.reveal_card(post, titles, chart)

        card, _ = await asyncio.to_thread(fitted, build)

        async def save(value: dict[str, str]) -> None:
            await asyncio.to_thread(d.s.exercises.mark, post_id, post.status, value)

        async def send(_interrupted: bool) -> str:
            reveal = message(card, "答案揭晓 · The answer")
            if where.get("activity"):
                return await d.client.reply(
                    service_url, where["conversation"], where["activity"], reveal
                )
            return await d.client.send(service_url, where["conversation"], reveal)

        sent = await send_once(job, where, save, send, marker="reveal_pending", repeat=False)
        if sent is None:
            log.warning(
                "outbox %s: an earlier reveal of exercise %s ended without an answer; "
                "not posting it twice",
                job.id,
                post_id[:8],
            )
        await asyncio.to_thread(d.s.exercises.mark, post_id, "revealed", where)
    return {"conversation": where["conversation"], "activity": where.get("activity", "")}


DESK_HANDLERS: dict[Kind, Handler] = {
    Kind.CASE_CARD: case_card,
    Kind.CARD_UPDATE: card_update,
    Kind.REMINDER: reminder,
    Kind.NOTIFY_ASSIGNEE: notify_assignee,
    Kind.RELAY_QUESTION: relay_question,
    Kind.EXERCISE_POST: exercise_post,
    Kind.EXERCISE_REVEAL: exercise_reveal,
}
