"""Consultations in the bot's personal chat: typed words and card clicks -> service calls -> cards.

Nothing is kept in process memory: the session id, node and state version travel in each
card's `Action.Execute` data and the service re-checks them, so any instance handles any
click and a second click on an old card is refused with the current step shown instead.
What a person types (a description, an answer) is passed to the service and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.adapters.teams import cards as C
from bot.adapters.teams.text import msg
from bot.core.engine import Turn
from bot.core.replies import OutcomeReply
from bot.search import find_guides
from bot.service import Action, AlsoWrite, ConsultationService, Refused

log = logging.getLogger(__name__)

TREE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SESSION_ID = re.compile(r"^[0-9a-f-]{36}$")
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OPENERS = {"ethics", "/ethics", "start", "menu", "hi", "hello", "道德", "开始", "咨询"}
HELP = {"help", "?", "帮助"}
WelcomeExtra = Callable[[dict[str, Any], "C.Card", str], Awaitable["C.Card"]]


_STEPS: dict[str, Literal["choose", "answer", "proceed", "back"]] = {
    C.V_CHOOSE: "choose",
    C.V_ANSWER: "answer",
    C.V_PROCEED: "proceed",
    C.V_BACK: "back",
}


@dataclass
class Once:
    """A step click's delivery key and the adapter's own writes for its activity (the
    conversation reference, the personal chat), claimed and written in the step's own
    transaction (`ConsultationService.act`): one transaction per click. `on_commit` runs
    once that transaction committed, whatever the step's answer."""

    key: str | None
    also: AlsoWrite | None = None
    on_commit: Callable[[], None] | None = None


def step_of(verb: str, data: dict[str, Any]) -> tuple[str, Action] | str:
    """A consultation step click's (session id, action), or why it is not a well-formed one
    ("session", "version", "node", "verb"): the one check, for the agent (which lets the
    step's own transaction claim the click's delivery key) and for `on_action`."""
    session_id = str(data.get("s") or "")
    if not SESSION_ID.match(session_id):
        return "session"
    node = str(data.get("n") or "")
    try:
        version = int(data.get("v"))  # type: ignore[arg-type]
        option = int(data.get("o", -1))
    except (TypeError, ValueError):
        return "version"
    if not NODE_ID.match(node):
        return "node"
    kind = _STEPS.get(verb)
    if kind is None:
        return "verb"
    text = str(data.get(C.ANSWER) or "")
    return session_id, Action(kind, node, version, option=option, text=text)


def owner_of(activity: dict[str, Any]) -> str:
    """`teams:<Entra object id>`; the channel-scoped id only where Teams sends no object id
    (the local emulator)."""
    sender = activity.get("from") or {}
    return f"teams:{sender.get('aadObjectId') or sender.get('id') or ''}"


def locale_lang(activity: dict[str, Any]) -> str:
    locale = str(activity.get("locale") or "").lower()
    return "zh" if locale.startswith("zh") else "en"


class TeamsConsultations:
    """Binds the consultation service to Teams activities; returns cards, sends nothing."""

    def __init__(self, service: ConsultationService, contact: str = "") -> None:
        self.service = service
        self.contact = contact
        self.welcome_extra: WelcomeExtra | None = None  # teamsrep: set by reflection.wire

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a short blocking service call: inline on SQLite when it need not wait for the
        write lock, else in a worker thread (`Database.run` says why)."""
        return await self.service.db.run(fn, *args, **kwargs)

    async def lang(self, activity: dict[str, Any]) -> str:
        """The language the user chose, else their Teams locale (stored, not as a choice)."""
        return str(await self.call(self._lang, owner_of(activity), locale_lang(activity)))

    def _lang(self, owner: str, locale: str) -> str:
        """Read and, for someone new, store: one hop off the event loop, not two."""
        lang = self.service.lang_of(owner)
        if lang:
            return str(lang)
        self.service.set_lang(owner, locale, chosen=False)
        return locale

    # -- rendering -----------------------------------------------------------------------------

    async def walk(self, owner: str, turn: Turn, notice: str = "") -> C.Card:
        lang = turn.state.lang
        last = turn.replies[-1] if turn.replies else None
        record = None
        handoff = None
        if isinstance(last, OutcomeReply):
            record = await self.call(self.service.record, owner, turn.state.id)
            if last.handoff:
                tree = self.service.content.tree(last.handoff)
                handoff = tree.title.get(lang) if tree else None
        try:
            return C.walk_card(
                turn.replies,
                turn.state.id,
                lang,
                record=record,
                handoff_title=handoff,
                notice=notice,
            )
        except ValueError:  # an unusually long record: the outcome alone still fits
            return C.walk_card(turn.replies, turn.state.id, lang, handoff_title=handoff)

    async def welcome(
        self,
        activity: dict[str, Any],
        *,
        greeting: bool = False,
        notice: str = "",
        lang: str | None = None,
    ) -> C.Card:
        lang = lang or await self.lang(activity)
        trees = await self.call(self.service.catalogue, lang)
        unfinished = await self.call(self.service.sessions, owner_of(activity), "active", 5)
        card = C.welcome_card(
            trees, unfinished, lang, greeting=greeting, contact=self.contact, notice=notice
        )
        # teamsrep: the reflection follow-up's opt-out (bot/adapters/teams/reflection.py)
        return await self.welcome_extra(activity, card, lang) if self.welcome_extra else card

    async def search(
        self, activity: dict[str, Any], text: str, *, notice: str = "", lang: str | None = None
    ) -> C.Card:
        """Search the guides for what was typed; the text is never stored or logged."""
        lang = lang or await self.lang(activity)
        self.service.content.maybe_reload()
        index = self.service.content.content.search_index()
        found = await asyncio.to_thread(find_guides, index, text, lang)  # long text: CPU
        return C.search_card(found, lang, notice=notice)

    # -- typed messages ------------------------------------------------------------------------

    async def on_text(self, activity: dict[str, Any], text: str, lang: str | None = None) -> C.Card:
        """What a typed message in the personal chat answers (always one card). `lang`: the
        person's language when the caller has looked it up already (one read, not two)."""
        words = text.strip().split()
        first = words[0].lower() if words else ""
        owner = owner_of(activity)
        if not words or (first in OPENERS and len(words) == 1):
            return await self.welcome(activity, lang=lang)
        if first in HELP and len(words) == 1:
            lang = lang or await self.lang(activity)
            return C.note_card(msg("help", lang), lang)
        if first == "lang" and len(words) == 2 and words[1].lower() in ("en", "zh"):
            lang = words[1].lower()
            await self.call(self.service.set_lang, owner, lang)
            return C.note_card(msg("lang_set", lang), lang)
        query = " ".join(words[1:] if first in OPENERS else words)
        # in memory (the loaded trees, no database, no file): not worth a thread hop
        tree_id = self.service.find_tree(query)
        if tree_id is None:  # not an id or a topic word: a description in their own words
            return await self.search(activity, query, lang=lang)
        lang = lang or await self.lang(activity)
        turn = await self.call(self.service.start, owner, tree_id, lang)
        return await self.walk(owner, turn)

    # -- card clicks (Action.Execute) ------------------------------------------------------------

    async def on_action(
        self, activity: dict[str, Any], verb: str, data: dict[str, Any], once: Once | None = None
    ) -> C.Card:
        """The refreshed card for one click; refusals come back as the current step plus a
        notice, never as an error. `once`: the agent left this step click's delivery key to
        the step's own transaction (`Once`; only for what `step_of` accepts)."""
        owner = owner_of(activity)
        if verb == C.V_PICK:
            return await self.welcome(activity)
        if verb == C.V_SEARCH:
            text = str(data.get(C.DESCRIBE) or "")
            if not text.strip():
                return await self.welcome(
                    activity, notice=msg("search_empty", await self.lang(activity))
                )
            return await self.search(activity, text)
        if verb == C.V_START:
            tree_id = str(data.get("t") or "")
            lang = await self.lang(activity)
            if not TREE_ID.match(tree_id):
                return await self.forged(activity, "start", "malformed tree id")
            try:
                turn = await self.call(self.service.start, owner, tree_id, lang)
            except Refused as exc:
                return await self.welcome(activity, notice=msg(exc.key, lang, query=tree_id[:64]))
            return await self.walk(owner, turn)
        session_id = str(data.get("s") or "")
        if not SESSION_ID.match(session_id):
            return await self.forged(activity, verb or "click", "malformed session id")
        if verb == C.V_RESUME:
            return await self.show(owner, activity, session_id)
        if verb == C.V_SAVE:
            lang = await self.lang(activity)
            return C.note_card(msg("saved", lang), lang)
        step = step_of(verb, data)
        if isinstance(step, str):
            if step == "verb":
                return await self.forged(activity, verb[:40], "unknown verb")
            return await self.forged(activity, verb, f"malformed {step}")
        return await self.step(owner, activity, step[0], step[1], once)

    async def step(
        self,
        owner: str,
        activity: dict[str, Any],
        session_id: str,
        action: Action,
        once: Once | None = None,
    ) -> C.Card:
        """Apply one step; with `once`, the click's delivery key is claimed and its arrival
        written in the step's transaction, and a redelivered click shows the current step."""
        try:
            turn = await self.call(
                self.service.act,
                owner,
                session_id,
                action,
                delivery=once.key if once else None,
                also=once.also if once else None,
            )
        except Refused as exc:
            if exc.key == "redelivered":  # the first copy was applied: apply nothing
                log.info("teams: redelivered click ignored")
                return await self.show(owner, activity, session_id, again=True)
            if once is not None and once.on_commit is not None:
                once.on_commit()  # a refusal commits the claim (it was handled)
            return await self.refused(owner, activity, session_id, exc)
        if once is not None and once.on_commit is not None:
            once.on_commit()
        return await self.walk(owner, turn)

    async def show(
        self,
        owner: str,
        activity: dict[str, Any],
        session_id: str,
        notice: str = "",
        *,
        again: bool = False,
    ) -> C.Card:
        """The session's current step; `again`: the answer to a redelivered click (a
        refusal was recorded with its first delivery, not recorded twice)."""
        try:
            turn = await self.call(self.service.view, owner, session_id, audit=not again)
        except Refused as exc:
            lang = await self.lang(activity)
            return C.note_card(msg(exc.key, lang), lang)
        return await self.walk(owner, turn, notice=notice)

    async def refused(
        self, owner: str, activity: dict[str, Any], session_id: str, exc: Refused
    ) -> C.Card:
        if exc.key in ("stale", "invalid"):
            turn = await self.call(self.service.view, owner, session_id)
            return await self.walk(owner, turn, notice=msg(exc.key, turn.state.lang))
        lang = await self.lang(activity)
        return C.note_card(msg(exc.key, lang), lang)

    async def forged(self, activity: dict[str, Any], action: str, reason: str) -> C.Card:
        """A click no card of ours could have sent: audited, and answered plainly."""
        await self.call(
            self.service.refuse, owner_of(activity), f"teams.{action}", "teams:card", reason
        )
        lang = await self.lang(activity)
        return C.note_card(msg("teams_unknown_action", lang), lang)
