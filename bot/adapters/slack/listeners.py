"""Slack listeners: ack, translate the payload, call the service, send the rendered view.

Every listener acks first (bolt's lazy listeners run the rest as a task) so Slack always
gets its answer within 3 s. Nothing is kept in process memory: the session id, node and
state version travel in the button values, and the service re-checks all of them, so any
instance can handle any click, and a duplicate click changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack import actions as A
from bot.adapters.slack import blocks as B
from bot.adapters.slack.text import msg
from bot.core.engine import Turn
from bot.service import Action, ConsultationService, Refused
from bot.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

Body = dict[str, Any]


def _ids(body: Body) -> tuple[str, str]:
    team = body.get("team_id") or (body.get("team") or {}).get("id") or ""
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    return str(team), str(user)


def owner_of(body: Body) -> str:
    team, user = _ids(body)
    return f"slack:{team}:{user}"


class SlackConsultations:
    """Binds the consultation service to a bolt app."""

    def __init__(self, service: ConsultationService, contact: str = "") -> None:
        self.service = service
        self.contact = contact  # how to reach compliance without the bot
        # filled by the case desk: `/ethics report|status`, officers' App Home section
        self.subcommands: dict[str, Callable[[Body, AsyncWebClient], Awaitable[None]]] = {}
        self.home_extra: Callable[[str], Awaitable[list[Any]]] | None = None
        # filled by the case desk: the App Home published when the database is not answering
        self.home_unavailable: Callable[[AsyncWebClient, str], Awaitable[None]] | None = None
        # subcommands answered in the ack itself (`/ethics exercise …`)
        self.ack_subcommands: dict[str, Callable[[AsyncAck, Body], Awaitable[None]]] = {}

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a short blocking service call: inline on SQLite when it need not wait for the
        write lock, else in a worker thread (`Database.run` says why)."""
        return await self.service.db.run(fn, *args, **kwargs)

    async def lang(self, client: AsyncWebClient, body: Body) -> str:
        """The user's chosen language, else their Slack locale (looked up once and stored)."""
        owner = owner_of(body)
        lang = await self.call(self.service.lang_of, owner)
        if lang:
            return str(lang)
        lang = await self.locale(client, body)
        await self.call(self.service.set_lang, owner, lang, chosen=False)
        return lang

    async def locale(self, client: AsyncWebClient, body: Body) -> str:
        """The language of the user's Slack locale (users.info), English when unknown."""
        _, user = _ids(body)
        try:
            info = await client.users_info(user=user, include_locale=True)
        except SlackApiError as exc:
            log.info("no locale for user (HTTP %s); using English", exc.response.status_code)
            return "en"
        locale = str((info.get("user") or {}).get("locale") or "")
        return "zh" if locale.lower().startswith("zh") else "en"

    def with_contact(self, text: str, lang: str) -> str:
        return f"{text}\n{msg('contact', lang, contact=self.contact)}" if self.contact else text

    # -- rendering helpers -------------------------------------------------------------------

    def walk(self, turn: Turn, notice: str = "") -> dict[str, Any]:
        lang = turn.state.lang
        handoff = None
        last = turn.replies[-1] if turn.replies else None
        target = getattr(last, "handoff", None)
        if target:
            handoff = self.service.tree_title(target, lang)
        return B.walk_view(turn.replies, turn.state.id, lang, handoff_title=handoff, notice=notice)

    async def show(self, client: AsyncWebClient, body: Body, view: dict[str, Any]) -> None:
        """Replace the modal the click came from, or open one (from App Home or a command)."""
        current = body.get("view") or {}
        if current.get("type") == "modal" and current.get("id"):
            await client.views_update(view_id=current["id"], view=view)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def picker(
        self,
        client: AsyncWebClient,
        body: Body,
        lang: str,
        context: dict[str, str] | None = None,
        notice: str = "",
    ) -> None:
        owner = owner_of(body)
        trees = await self.call(self.service.catalogue, lang)
        unfinished = await self.call(self.service.sessions, owner, "active", 5)
        view = B.picker_view(
            trees,
            unfinished,
            lang,
            metadata=json.dumps(context) if context else "",
            about_channel=(context or {}).get("channel", ""),
        )
        if notice:
            view["blocks"].insert(
                0, {"type": "context", "elements": [{"type": "mrkdwn", "text": B.escape(notice)}]}
            )
        await self.show(client, body, view)

    # -- listeners ---------------------------------------------------------------------------

    async def ack_command(self, ack: AsyncAck, body: Body) -> None:
        """Answer help and language commands in the ack itself; defer the rest."""
        words = str(body.get("text") or "").strip().split()
        owner = owner_of(body)
        if words and words[0] in self.ack_subcommands:
            await self.ack_subcommands[words[0]](ack, body)
        elif words[:1] == ["help"]:
            lang = await self.call(self.service.lang_of, owner) or "en"
            await ack(text=self.with_contact(msg("help", lang), lang), response_type="ephemeral")
        elif words[:1] == ["lang"]:
            lang = words[1] if len(words) > 1 and words[1] in ("en", "zh") else ""
            if not lang:
                await ack(text="/ethics lang en | /ethics lang zh", response_type="ephemeral")
                return
            await self.call(self.service.set_lang, owner, lang)
            await ack(text=msg("lang_set", lang), response_type="ephemeral")
        else:
            await ack()

    async def on_command(self, body: Body, client: AsyncWebClient) -> None:
        words = str(body.get("text") or "").strip().split()
        if words[:1] in (["help"], ["lang"]) or (words and words[0] in self.ack_subcommands):
            return
        if words and words[0] in self.subcommands:
            await self.subcommands[words[0]](body, client)
            return
        query = " ".join(words)
        # in memory, microseconds: not worth a hop to a thread and back
        tree_id = self.service.find_tree(query) if words else None
        if tree_id is None:
            lang = await self.lang(client, body)
            if not words:
                await self.picker(client, body, lang)
            else:  # not an id or topic word: a description in their own words
                await self.describe(client, body, lang, query, command=True)
            return
        # the hot path: the stored language is read in the transaction that writes the
        # session; only a first contact looks up the locale, stored with the session
        owner = owner_of(body)
        turn = await self.call(self.service.start_known, owner, tree_id)
        if turn is None:
            lang = await self.locale(client, body)
            turn = await self.call(self.service.start, owner, tree_id, lang, remember_lang=True)
        await self.show(client, body, self.walk(turn))

    async def describe(
        self, client: AsyncWebClient, body: Body, lang: str, text: str, *, command: bool = False
    ) -> None:
        """Search the guides for what was typed; the text is never stored or logged."""
        # a thread, not inline: what was typed can be long, and tokenizing it is CPU work
        found = await asyncio.to_thread(self.service.find, text, lang)  # titles in UI language
        notice = ""
        if command and found.status == "no_match":
            notice = msg("unknown_topic", lang, query=text[:100])
        await self.show(client, body, B.search_view(found, lang, notice=notice))

    async def on_describe(self, body: Body, client: AsyncWebClient) -> None:
        """Enter pressed in a "Describe your situation" box (picker or results)."""
        text = str(body["actions"][0].get("value") or "")
        await self.describe(client, body, await self.lang(client, body), text)

    async def ack_describe(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """Search pressed on the picker or the results: answer with the results in the ack."""
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get(B.DESCRIBE_BLOCK) or {}).get(B.DESCRIBE) or {}).get("value") or "")
        lang = str(await self.call(self.service.lang_of, owner_of(body)) or "en")
        found = await asyncio.to_thread(self.service.find, text, lang)
        if found.status == "empty":
            await ack(
                response_action="errors", errors={B.DESCRIBE_BLOCK: msg("search_empty", lang)}
            )
            return
        await ack(response_action="update", view=B.search_view(found, lang))

    async def on_talk_compliance(self, body: Body, client: AsyncWebClient) -> None:
        """The way out from search results: the speak-up modal, no consultation needed."""
        from bot.adapters.slack import case_blocks as CB  # case_blocks imports blocks

        lang = await self.lang(client, body)
        await self.show(client, body, CB.report_view(lang, ask_topic=True))

    async def on_shortcut(self, body: Body, client: AsyncWebClient) -> None:
        """Message shortcut: remember only where the message is, never its text."""
        lang = await self.lang(client, body)
        context = {
            "channel": str((body.get("channel") or {}).get("id", "")),
            "ts": str((body.get("message") or {}).get("ts", "")),
        }
        await self.picker(client, body, lang, context=context)

    async def on_start(self, body: Body, client: AsyncWebClient) -> None:
        tree_id = A.tree_id(body["actions"][0].get("value"))
        lang = await self.lang(client, body)
        if tree_id is None:
            await self.refuse_forged(body, "start", "malformed tree id")
            return
        context = None
        raw = (body.get("view") or {}).get("private_metadata") or ""
        if raw.startswith("{"):
            try:
                loaded = json.loads(raw)
                context = {k: str(v) for k, v in loaded.items() if k in ("channel", "ts")}
            except ValueError:
                context = None
        try:
            turn = await self.call(self.service.start, owner_of(body), tree_id, lang, context)
        except Refused as exc:
            await self.picker(client, body, lang, notice=msg(exc.key, lang, query=tree_id))
            return
        await self.show(client, body, self.walk(turn))

    async def on_click(self, body: Body, client: AsyncWebClient) -> None:
        """Choose, Continue or Back inside the walk modal."""
        action = body["actions"][0]
        click = A.Click.decode(action.get("value"))
        if click is None:
            await self.refuse_forged(body, "click", "malformed button value")
            return
        action_id = str(action.get("action_id", ""))
        kind: Literal["choose", "proceed", "back"]
        if action_id.startswith(A.CHOOSE):
            kind = "choose"
        elif action_id == A.CONTINUE:
            kind = "proceed"
        else:
            kind = "back"
        await self.apply(
            body,
            client,
            click.session,
            Action(kind, click.node, click.version, option=click.option),
        )

    async def apply(
        self, body: Body, client: AsyncWebClient, session_id: str, action: Action
    ) -> None:
        owner = owner_of(body)
        try:
            turn = await self.call(self.service.act, owner, session_id, action)
            await self.show(client, body, self.walk(turn))
        except Refused as exc:
            await self.show_refusal(client, body, session_id, exc)

    async def show_refusal(
        self, client: AsyncWebClient, body: Body, session_id: str, exc: Refused
    ) -> None:
        owner = owner_of(body)
        lang = await self.lang(client, body)
        if exc.key in ("stale", "invalid"):
            turn = await self.call(self.service.view, owner, session_id)
            await self.show(client, body, self.walk(turn, notice=msg(exc.key, turn.state.lang)))
        else:
            await self.show(client, body, B.notice_view(msg(exc.key, lang), lang))

    async def on_save(self, body: Body, client: AsyncWebClient) -> None:
        lang = await self.lang(client, body)
        await self.show(client, body, B.notice_view(msg("saved", lang), lang))

    async def on_resume(self, body: Body, client: AsyncWebClient) -> None:
        session_id = A.session_id(body["actions"][0].get("value"))
        if session_id is None:
            await self.refuse_forged(body, "resume", "malformed session id")
            return
        try:
            turn = await self.call(self.service.view, owner_of(body), session_id)
        except Refused as exc:
            lang = await self.lang(client, body)
            await self.show(client, body, B.notice_view(msg(exc.key, lang), lang))
            return
        await self.show(client, body, self.walk(turn))

    async def on_record_dm(self, body: Body, client: AsyncWebClient) -> None:
        session_id = A.session_id(body["actions"][0].get("value"))
        if session_id is None:
            await self.refuse_forged(body, "record", "malformed session id")
            return
        owner = owner_of(body)
        try:
            record = await self.call(self.service.record, owner, session_id)
        except Refused as exc:
            await self.show_refusal(client, body, session_id, exc)
            return
        lang = record.lang
        context = await self.call(self.service.context, owner, session_id)
        note = (
            msg("about_message", lang, channel=f"<#{B.escape(context['channel'])}>")
            if context
            else ""
        )
        _, user = _ids(body)
        await client.chat_postMessage(
            channel=user,
            text=B.record_fallback(record, lang),
            blocks=B.record_blocks(record, lang, note=note),
        )
        turn = await self.call(self.service.view, owner, session_id)
        await self.show(client, body, self.walk(turn, notice=msg("record_sent", lang)))

    async def on_view_record(self, body: Body, client: AsyncWebClient) -> None:
        session_id = A.session_id(body["actions"][0].get("value"))
        if session_id is None:
            await self.refuse_forged(body, "record", "malformed session id")
            return
        owner = owner_of(body)
        try:
            record = await self.call(self.service.record, owner, session_id)
        except Refused as exc:
            lang = await self.lang(client, body)
            await self.show(client, body, B.notice_view(msg(exc.key, lang), lang))
            return
        await self.show(client, body, B.record_view(record, record.lang))

    async def on_home_start(self, body: Body, client: AsyncWebClient) -> None:
        await self.picker(client, body, await self.lang(client, body))

    async def ack_answer(self, ack: AsyncAck, body: Body, view: Body) -> None:
        """Free-text answers arrive as a view submission: reply in the ack itself."""
        click = A.Click.decode(view.get("private_metadata"))
        if click is None:
            await self.refuse_forged(body, "answer", "malformed view metadata")
            await ack(response_action="errors", errors={A.ANSWER_BLOCK: "—"})
            return
        values = (view.get("state") or {}).get("values") or {}
        text = ((values.get(A.ANSWER_BLOCK) or {}).get(A.ANSWER_INPUT) or {}).get("value") or ""
        owner = owner_of(body)
        try:
            turn = await self.call(
                self.service.act,
                owner,
                click.session,
                Action("answer", click.node, click.version, text=str(text)),
            )
        except Refused as exc:
            lang = str(await self.call(self.service.lang_of, owner) or "en")
            if exc.key == "invalid":
                await ack(
                    response_action="errors",
                    errors={A.ANSWER_BLOCK: msg("invalid", lang) + f" ({exc})"},
                )
            elif exc.key == "stale":
                turn = await self.call(self.service.view, owner, click.session)
                await ack(
                    response_action="update",
                    view=self.walk(turn, notice=msg("stale", turn.state.lang)),
                )
            else:
                await ack(response_action="update", view=B.notice_view(msg(exc.key, lang), lang))
            return
        await ack(response_action="update", view=self.walk(turn))

    async def on_home_opened(self, body: Body, event: Body, client: AsyncWebClient) -> None:
        if event.get("tab") != "home":
            return
        try:
            await self._home(body, event, client)
        except StorageUnavailable:  # already logged where translated; say so on the tab
            if self.home_unavailable is None:
                raise
            await self.home_unavailable(client, str(event.get("user")))

    async def _home(self, body: Body, event: Body, client: AsyncWebClient) -> None:
        if not await self.call(self.service.first_delivery, f"slack:{body.get('event_id')}"):
            return  # Slack's retry of an event already handled
        body = {**body, "user": {"id": event.get("user")}}
        owner = owner_of(body)
        lang = await self.lang(client, body)
        unfinished = await self.call(self.service.sessions, owner, "active", 10)
        recent = await self.call(self.service.sessions, owner, "finished", 10)
        extra = await self.home_extra(str(event.get("user"))) if self.home_extra else []
        await client.views_publish(
            user_id=str(event.get("user")),
            view=B.home_view(lang, unfinished, recent, extra, contact=self.contact),
        )

    async def refuse_forged(self, body: Body, what: str, reason: str) -> None:
        await self.call(self.service.refuse, owner_of(body), f"slack.{what}", "slack", reason)


def unavailable_text() -> str:
    """Both languages: the user's language is itself in the database that is not answering."""
    return msg("db_unavailable", "en") + "\n" + msg("db_unavailable", "zh")


async def tell_unavailable(body: Body, client: AsyncWebClient) -> None:
    """After the ack: tell the person their click or command did not go through, by the way
    back the request offers. Over a modal, push a notice on top, so closing it returns to
    the modal as it was and the same button can simply be pressed again."""
    text = unavailable_text()
    notice = B.notice_view(text, "en")
    view = body.get("view") or {}
    _, user = _ids(body)
    try:
        if view.get("type") == "modal" and view.get("id"):
            try:
                await client.views_push(trigger_id=str(body.get("trigger_id")), view=notice)
            except SlackApiError:  # trigger expired (a long busy wait): replace the modal
                await client.views_update(view_id=str(view["id"]), view=notice)
        elif body.get("response_url"):
            await AsyncWebhookClient(str(body["response_url"])).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        elif channel := (body.get("channel") or {}).get("id") or body.get("channel_id"):
            await client.chat_postEphemeral(channel=str(channel), user=user, text=text)
        elif body.get("trigger_id"):
            await client.views_open(trigger_id=str(body["trigger_id"]), view=notice)
        else:
            await client.chat_postMessage(channel=user, text=text)
    except Exception as exc:  # Slack unreachable too: the log line is all that is left
        log.warning("could not tell a user about the database (%s)", type(exc).__name__)


def ack_unavailable(error: Exception, body: Body, acked: bool) -> BoltResponse | None:
    """bolt's error handler for a listener that answers in its ack (view submissions, help
    and language commands): the database failed before the ack, so the ack itself says so.
    A submitted modal stays open with the message under its first input (what was typed is
    kept for the retry); one without inputs gets a notice pushed on top."""
    if not isinstance(error, StorageUnavailable) or acked:
        return None
    text = unavailable_text()
    if body.get("type") == "view_submission":
        inputs = list(((body.get("view") or {}).get("state") or {}).get("values") or {})
        answer: dict[str, Any] = (
            {"response_action": "errors", "errors": {inputs[0]: text}}
            if inputs
            else {"response_action": "push", "view": B.notice_view(text, "en")}
        )
    else:
        answer = {"response_type": "ephemeral", "text": text}
    return BoltResponse(
        status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
    )


class Deferred:
    """Work that runs after the ack, as a task the process tracks until it finishes.

    bolt's own lazy listeners deep-copy the request, which fails once the client holds a
    shared aiohttp session; a tracked task does the same job without the copy. Tasks die with
    the process, so nothing here may be the only record of anything: state is written by
    the service before the user sees it, and a lost view update is redone by the next click.
    """

    SHED_LOG_EVERY = 10.0  # seconds between "turned away" lines while the backlog is full

    def __init__(self, limit: int = 200) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.limit = limit  # beyond this backlog new consultations are turned away
        self.turned_away = 0  # commands turned away since the last line that said so
        self._shed_logged = -self.SHED_LOG_EVERY  # loop time of that line

    @property
    def busy(self) -> bool:
        """Too much work queued: a new modal would open after its trigger_id expired (3 s)."""
        return len(self.tasks) >= self.limit

    def spawn(
        self, work: Awaitable[None], body: Body | None = None, client: AsyncWebClient | None = None
    ) -> None:
        """Run `work` as a tracked task; with the request's `body` and `client`, a database
        that is not answering is told to the person instead of leaving them with nothing."""
        if body is not None and client is not None:
            work = self._telling(work, body, client)
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    @staticmethod
    async def _telling(work: Awaitable[None], body: Body, client: AsyncWebClient) -> None:
        try:
            await work
        except StorageUnavailable:  # already logged, by class, where it was translated
            await tell_unavailable(body, client)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deferred Slack work failed", exc_info=task.exception())

    def after_ack(
        self,
        work: Callable[[Body, AsyncWebClient], Awaitable[None]],
        first: Callable[[AsyncAck, Body], Awaitable[None]] | None = None,
        *,
        shed: bool = False,
    ) -> Callable[..., Awaitable[None]]:
        """A bolt listener that acks (with `first`, or empty) and then runs `work` as a task.
        With `shed`, a full backlog is answered "busy" instead: a modal opened after its
        3 s trigger_id expired would fail anyway."""

        async def listener(ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
            if shed and self.busy:
                await ack(
                    text=msg("busy", "en") + "\n" + msg("busy", "zh"), response_type="ephemeral"
                )
                self.shed()
                return
            if first is None:
                await ack()
            else:
                try:
                    await first(ack, body)
                except StorageUnavailable:  # before its ack: the ack says so
                    await ack(text=unavailable_text(), response_type="ephemeral")
                    return
            self.spawn(work(body, client), body, client)

        return listener

    def shed(self) -> None:
        """Count a command turned away; say so at most once per SHED_LOG_EVERY seconds.
        A line per command wrote thousands of lines a second under overload (a third of the
        log and ~50 us of CPU each) exactly when the process has least to spare; the count
        in the next line keeps the shedding visible and honest."""
        self.turned_away += 1
        now = asyncio.get_running_loop().time()
        if now - self._shed_logged >= self.SHED_LOG_EVERY:
            log.warning(
                "turned %d command(s) away in the last %.0f s: %d tasks queued",
                self.turned_away,
                min(now - self._shed_logged, self.SHED_LOG_EVERY),
                len(self.tasks),
            )
            self.turned_away = 0
            self._shed_logged = now

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def register(
    app: AsyncApp, service: ConsultationService, deferred: Deferred, contact: str = ""
) -> SlackConsultations:
    """Attach every consultation listener to `app`."""
    h = SlackConsultations(service, contact)

    def event_after_ack(work: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def listener(ack: AsyncAck, body: Body, event: Body, client: AsyncWebClient) -> None:
            await ack()
            deferred.spawn(work(body, event, client))

        return listener

    after_ack = deferred.after_ack
    # bolt tries listeners in the order they were added, and every one tried costs a matcher
    # call with its own keyword-argument build (~10 us): the command and the walk's clicks,
    # nearly all of the traffic, go first (no two listeners here match the same request)
    app.command("/ethics")(after_ack(h.on_command, h.ack_command, shed=True))
    app.action(A.pattern(A.CHOOSE))(after_ack(h.on_click))
    app.action(A.CONTINUE)(after_ack(h.on_click))
    app.action(A.BACK)(after_ack(h.on_click))
    app.shortcut(A.SHORTCUT)(after_ack(h.on_shortcut))
    app.action(A.pattern(A.START))(after_ack(h.on_start))
    app.action(A.SAVE)(after_ack(h.on_save))
    app.action(A.pattern(A.RESUME))(after_ack(h.on_resume))
    app.action(A.RECORD_DM)(after_ack(h.on_record_dm))
    app.action(A.pattern(A.VIEW_RECORD))(after_ack(h.on_view_record))
    app.action(A.HOME_START)(after_ack(h.on_home_start))
    app.action(B.DESCRIBE)(after_ack(h.on_describe))
    app.action(B.TALK_COMPLIANCE)(after_ack(h.on_talk_compliance))
    app.view(A.PICKER_VIEW)(h.ack_describe)
    app.view(B.SEARCH_VIEW)(h.ack_describe)
    app.view(A.WALK_VIEW)(h.ack_answer)
    app.event("app_home_opened")(event_after_ack(h.on_home_opened))
    return h
