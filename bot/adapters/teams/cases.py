"""Teams handlers for speaking up and for the compliance desk: typed words and card clicks ->
`CaseService` calls -> cards.

Reporter side, in the personal chat: `report` (or the outcome card's button, built with the
outcome in cards.py) opens the form; its Submit calls `CaseService.escalate_consultation`
with the form's random id as the submission, so a double press records once; the receipt
comes back as the answer to that click only. A named or confidential report keeps the
personal chat it came from under the reporter's pseudonym (personal.py), where compliance's
questions are relayed; an anonymous one records nothing. `status` shows a named reporter's
cases and the receipt login. A confidential reporter's question card offers consent to be
seen by the case team; the click is checked against the case's reporter on the server.
Officer side, on the channel card: every click goes to `CaseService.act` with the clicker's
`teams:<Entra object id>` — roles and exclusions are checked there, refusals audited there,
and the answer to a refused click is the unchanged card plus a notice only the clicker sees.
View details answers with the private card (Teams shows an invoke's answer to the clicker
only; each view is audited by the service). After any change the outbox updates the channel
message for everyone (bot/adapters/teams/desk_delivery.py).

Nothing here keeps state in memory, logs typed text or logs who an anonymous reporter is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.adapters.teams import case_cards as CC
from bot.adapters.teams.cards import Card, note_card
from bot.adapters.teams.consult import owner_of
from bot.adapters.teams.personal import PersonalChats, personal_chat_of, personal_chats
from bot.cases.roles import COMPLIANCE, LEAD, qualify
from bot.service import Refused

if TYPE_CHECKING:
    from bot.adapters.teams.exercises import TeamsExercises
    from bot.adapters.teams.references import ConversationStore
    from bot.adapters.teams.reflection import TeamsReflection
    from bot.bootstrap import Services

log = logging.getLogger(__name__)

UUID = re.compile(r"^[0-9a-f-]{36}$")
FORM_ID = re.compile(r"^[0-9a-f]{32}$")
TOKEN = re.compile(r"^[0-9a-f-]{36}\.\d{1,12}\.[0-9a-f]{32}$")
Lang = Callable[[dict[str, Any]], Awaitable[str]]
# refusals an officer may be told about in our words; anything else says "error"
KNOWN = {
    "not_officer",
    "excluded",
    "case_closed",
    "case_stale",
    "empty",
    "gone",
    "not_officer_target",
}


def conversation_kind(activity: dict[str, Any]) -> str:
    return str((activity.get("conversation") or {}).get("conversationType") or "personal")


class TeamsDesk:
    """Speaking up and the case desk for Teams; returns cards, sends nothing itself."""

    def __init__(
        self, services: Services, lang: Lang, exercises: TeamsExercises | None = None
    ) -> None:
        self.s = services
        self.cases = services.cases
        self.lang = lang
        self.exercises = exercises
        self.reflection: TeamsReflection | None = None  # teamsrep: set by reflection.wire
        self.chats: PersonalChats = personal_chats(services)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A short service call: inline on SQLite when it need not wait (`Database.run`)."""
        return await self.s.db.run(fn, *args, **kwargs)

    # -- routing (called by the agent before the consultation handlers) -----------------------

    async def officer_chat(self, activity: dict[str, Any]) -> None:
        """Keep a compliance officer's personal chat (under their pseudonym), so reminders and
        "the reporter answered" reach them there as Slack's reach an officer by DM. Only for
        officers: nobody else's chat is recorded for the desk's sake."""
        chat = personal_chat_of(activity)
        if chat is None:
            return
        who = owner_of(activity)
        roles = self.cases.roles()
        if who != "teams:" and (roles.has(COMPLIANCE, who) or roles.has(LEAD, who)):
            await self.call(self.chats.remember, who, chat)

    async def on_message(self, activity: dict[str, Any], words: list[str]) -> Card | None:
        """A card for the typed words this desk owns, or None (not ours)."""
        await self.officer_chat(activity)
        first = words[0].lower() if words else ""
        if conversation_kind(activity) == "personal":
            if first in ("report", "举报", "报告") and len(words) == 1:
                return await self.report_form(activity)
            if first in ("status", "进展") and len(words) == 1:
                return await self.status(activity)
            if first == "exercise" and self.exercises is not None:
                return self.exercises.personal_hint(await self.lang(activity))
            return None
        if first == "exercise" and self.exercises is not None:
            return await self.exercises.command(activity, words[1:])
        return None

    async def on_action(
        self, activity: dict[str, Any], verb: str, data: dict[str, Any]
    ) -> Card | None:
        """The answer card for a click this desk owns, or None (not ours)."""
        if verb.startswith("ex.") and self.exercises is not None:
            return await self.exercises.on_action(activity, verb, data)
        if verb.startswith("reflect.") and self.reflection is not None:  # teamsrep
            return await self.reflection.on_action(activity, verb, data)
        if not verb.startswith("case."):
            return None
        if verb == CC.V_REPORT:
            session = str(data.get("s") or "")
            return await self.report_form(activity, session if UUID.match(session) else "")
        if verb == CC.V_REPORT_SUBMIT:
            return await self.submit_report(activity, data)
        if verb == CC.V_STATUS_LOGIN:
            return await self.status_login(activity, data)
        if verb == CC.V_STATUS_OPEN:
            return await self.status_open(activity, data)
        if verb == CC.V_STATUS_ANSWER:
            return await self.status_answer(activity, data)
        if verb == CC.V_CONSENT:
            return await self.consent(activity, data)
        if verb in CC.OFFICER_VERBS:
            return await self.officer(activity, verb, data)
        return await self.forged(activity, verb[:40], "unknown verb")

    async def after_consultation(
        self, activity: dict[str, Any], data: dict[str, Any], card: Card
    ) -> Card:
        """A consultation card on its way out (its report button, if any, is already on it:
        cards.walk_card builds it with the outcome)."""
        if self.reflection is not None:  # teamsrep: where to ask the follow-up later
            await self.reflection.seen(activity)
        return card

    # -- reporter ------------------------------------------------------------------------------

    async def _officer_choices(self) -> list[tuple[str, str]]:
        """Officers a reporter may exclude (a conflict of interest), from both desks. Only
        ids are known (the bot stores no names): shown as the desk shows people."""
        roles = self.cases.roles()
        out: list[tuple[str, str]] = []
        for platform in ("teams", "slack"):
            for user in roles.members(COMPLIANCE, platform):
                ident = qualify(platform, user)
                out.append((ident, CC.person(ident)))
        return out[:50]

    async def report_form(
        self, activity: dict[str, Any], session_id: str = "", notice: str = ""
    ) -> Card:
        lang = await self.lang(activity)
        return CC.report_form(
            lang, session_id=session_id, officers=await self._officer_choices(), notice=notice
        )

    async def submit_report(self, activity: dict[str, Any], data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        form_id = str(data.get("f") or "")
        session = str(data.get("s") or "")
        if not FORM_ID.match(form_id) or (session and not UUID.match(session)):
            return await self.forged(activity, "report", "malformed form")
        excluded = [
            e
            for e in str(data.get(CC.EXCLUDE) or "").split(",")
            if e.startswith(("teams:", "slack:"))
        ]
        try:
            receipt = await self.call(
                self.cases.escalate_consultation,
                reporter_identity=owner_of(activity),
                mode=str(data.get(CC.MODE) or ""),
                session_id=session or None,
                submission=f"teams:{form_id}",
                topic=str(data.get(CC.TOPIC) or "") if not session else "",
                narrative=str(data.get(CC.NARRATIVE) or "")[:5000],
                excluded=excluded[:10],
                passphrase=str(data.get(CC.PASSPHRASE) or ""),
            )
        except Refused as exc:
            if exc.key == "duplicate":
                return note_card(CC.msg("duplicate", lang), lang)
            if exc.key in ("passphrase_short", "invalid_mode", "rate_limited", "no_escalation"):
                # the same form again (same form id: nothing was recorded), with the reason
                return CC.report_form(
                    lang,
                    session_id=session,
                    officers=await self._officer_choices(),
                    notice=CC.msg(exc.key, lang),
                    form_id=form_id,
                )
            return note_card(
                CC.msg(exc.key if exc.key in ("not_yours", "gone") else "error", lang), lang
            )
        if receipt.mode != "anonymous":
            # where to relay compliance's questions: this personal chat, under the reporter's
            # pseudonym (never in the case's card locations). Never for an anonymous report.
            chat = personal_chat_of(activity)
            if chat is not None:
                await self.call(self.chats.remember, owner_of(activity), chat)
        card = await self.call(self.cases.card, receipt.case_id)
        return CC.receipt_card(lang, receipt.ref, card.ack_due, receipt.receipt_code)

    async def status(self, activity: dict[str, Any], notice: str = "") -> Card:
        lang = await self.lang(activity)
        named = await self.call(self.cases.named_cases, owner_of(activity))
        return CC.status_login_card(lang, named, notice)

    async def status_login(self, activity: dict[str, Any], data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        try:
            r = await self.call(
                self.cases.reporter_login,
                str(data.get(CC.RECEIPT) or "")[:40],
                str(data.get(CC.PASSPHRASE) or "")[:200],
            )
        except Refused as exc:
            return await self.status(activity, CC.msg(exc.key, lang))
        return CC.reporter_card(r, lang, anonymous=True)

    async def status_open(self, activity: dict[str, Any], data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        case_id = str(data.get("c") or "")
        try:
            if not UUID.match(case_id):
                raise Refused("not_yours")
            r = await self.call(self.cases.reporter_case, case_id, owner_of(activity))
        except Refused:
            return await self.forged(activity, "reporter_answer", "not the reporter")
        return CC.reporter_card(r, lang, anonymous=False)

    async def status_answer(self, activity: dict[str, Any], data: dict[str, Any]) -> Card:
        lang = await self.lang(activity)
        token = str(data.get("k") or "")
        case_id = str(data.get("c") or "")
        answer = str(data.get(CC.ANSWER) or "")[:3000]
        anonymous = bool(token)
        try:
            if anonymous:
                if not TOKEN.match(token):
                    raise Refused("bad_receipt")
                r = await self.call(self.cases.reporter_answer, token, answer)
            else:
                if not UUID.match(case_id):
                    raise Refused("not_yours")
                mine = await self.call(self.cases.reporter_case, case_id, owner_of(activity))
                r = await self.call(
                    self.cases.reporter_answer, mine.token, answer, owner_of(activity)
                )
        except Refused as exc:
            if exc.key == "not_yours":
                return await self.forged(activity, "reporter_answer", "not the reporter")
            return note_card(
                CC.msg(exc.key if exc.key in KNOWN | {"bad_receipt"} else "error", lang), lang
            )
        return CC.reporter_card(r, lang, anonymous=anonymous)

    async def consent(self, activity: dict[str, Any], data: dict[str, Any]) -> Card:
        """A confidential reporter allows the case team to see who they are. The case id in
        the card is untrusted: the service accepts it only from the case's own reporter, and
        anyone else's click is refused and audited like any forged click."""
        lang = await self.lang(activity)
        case_id = str(data.get("c") or "")
        try:
            if not UUID.match(case_id):
                raise Refused("not_yours")
            await self.call(self.cases.consent, case_id, owner_of(activity))
        except Refused:
            return await self.forged(activity, "reporter_consent", "not the reporter")
        ref = (await self.call(self.cases.card, case_id)).ref
        return CC.consent_card(ref, lang)

    # -- officers ------------------------------------------------------------------------------

    async def officer(self, activity: dict[str, Any], verb: str, data: dict[str, Any]) -> Card:
        """One click on the channel card. The answer is what the clicker sees; everyone else
        sees the channel message, which the outbox updates after every change."""
        case_id = str(data.get("c") or "")
        if not UUID.match(case_id):
            return await self.forged(activity, "case", "malformed case id")
        officer = owner_of(activity)
        try:
            if verb == CC.V_CARD:
                return CC.case_card(await self.call(self.cases.card, case_id))
            if verb == CC.V_VIEW:
                return CC.details_card(await self.call(self.cases.view, case_id, officer))
            action, kwargs = {
                CC.V_ACK: ("acknowledge", {}),
                CC.V_ASSIGN_ME: ("assign", {"assignee": officer}),
                CC.V_ASK: ("ask", {"text": str(data.get(CC.TEXT) or "")[:3000]}),
                CC.V_NOTE: ("note", {"text": str(data.get(CC.TEXT) or "")[:3000]}),
                CC.V_CLOSE: (
                    "close",
                    {
                        "text": str(data.get(CC.TEXT) or "")[:3000],
                        "outcome": str(data.get(CC.OUTCOME) or ""),
                    },
                ),
                CC.V_REOPEN: ("reopen", {}),
            }[verb]
            view = await self.call(self.cases.act, case_id, officer, action, **kwargs)
            return CC.case_card(view)
        except Refused as exc:
            notice = CC.msg(exc.key if exc.key in KNOWN else "error", "en")
            try:
                current = await self.call(self.cases.card, case_id)
            except Refused:
                return note_card(notice, "en")
            return CC.case_card(current, notice=notice)

    async def forged(self, activity: dict[str, Any], action: str, reason: str) -> Card:
        """A click none of our cards could have sent: audited, answered plainly."""
        await self.call(
            self.s.consult.refuse, owner_of(activity), f"teams.{action}", "teams:card", reason
        )
        lang = await self.lang(activity)
        return note_card(CC.msg("teams_unknown_action", lang), lang)


def desk_router(services: Services, lang: Lang, conversations: ConversationStore) -> TeamsDesk:
    """The desk the agent routes to: cases, and exercises in channels."""
    from bot.adapters.teams.exercises import TeamsExercises

    return TeamsDesk(services, lang, TeamsExercises(services, lang, conversations))
