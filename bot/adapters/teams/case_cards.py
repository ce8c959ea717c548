"""Pure Adaptive Card 1.5 builders for speaking up and the Teams compliance desk.

Reporter side (personal chat): the report form with the three modes and what each protects,
the receipt, the status login and the reporter's view with compliance's questions.
Compliance side (the channel in COMPLIANCE_TEAMS_CONVERSATION): the case card — reference,
topic, severity, status, assignee, due dates and NEVER the narrative, the path or the
reporter, because a channel is read by many and exported — and the private details card,
which only ever travels as the answer to the clicking officer's own invoke.

Every button is an `Action.Execute` whose verb starts with `case.`; its data carries only
ids (case id, a random form id), never a person. Forms that need typing (ask, note, close)
open in place with `Action.ShowCard`, so no dialog is needed. Words someone typed go into
TextRuns only (never parsed as markdown).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.adapters.teams.cards import (
    SEVERITY_COLOR,
    SEVERITY_ICON,
    Card,
    _clip,
    execute,
    finish,
    notice_block,
    text,
    typed,
)
from bot.adapters.teams.cards import (
    V_REPORT as V_REPORT,  # re-exported: the desk dispatches on it
)
from bot.adapters.teams.cards import (
    speak_up_action as speak_up_action,  # re-exported: built with the outcome card
)
from bot.cases.service import OUTCOMES, CaseView, ReporterView
from bot.messages import msg as neutral

PLATFORM = "teams"

# verbs (the desk's invoke handler dispatches on them)
# V_REPORT (cards.py): open the report form (data: s = session id, optional)
V_REPORT_SUBMIT = "case.report.submit"  # data: f = form id, s = session id
V_STATUS_LOGIN = "case.status.login"
V_STATUS_ANSWER = "case.status.answer"  # data: k = reporter token (anonymous) / c = case id
V_STATUS_OPEN = "case.status.open"  # a named reporter opens one of their cases (c)
V_CONSENT = "case.consent"  # a confidential reporter lets the case team see them (c)
V_ACK = "case.acknowledge"
V_ASSIGN_ME = "case.assign_me"
V_VIEW = "case.view"
V_ASK = "case.ask"
V_NOTE = "case.note"
V_CLOSE = "case.close"
V_REOPEN = "case.reopen"
V_CARD = "case.card"  # back from the private details to the public card
OFFICER_VERBS = (V_ACK, V_ASSIGN_ME, V_VIEW, V_ASK, V_NOTE, V_CLOSE, V_REOPEN, V_CARD)

# input ids
MODE, TOPIC, NARRATIVE, EXCLUDE, PASSPHRASE = "mode", "topic", "narrative", "exclude", "passphrase"
RECEIPT, ANSWER, TEXT, OUTCOME = "receipt", "answer", "text", "outcome"

TOPICS = ["confidentiality", "fair_treatment", "honesty", "conflict_of_interest", "speaking_up"]
TOPIC_NAMES = {
    "confidentiality": {"en": "Confidentiality", "zh": "信息保密"},
    "fair_treatment": {"en": "Fair treatment", "zh": "公平对待"},
    "honesty": {"en": "Honesty / mis-selling", "zh": "诚实守信"},
    "conflict_of_interest": {"en": "Conflict of interest", "zh": "利益冲突"},
    "speaking_up": {"en": "Other misconduct", "zh": "其他不当行为"},
    "triage": {"en": "Not sure", "zh": "不确定"},
}
OUTCOME_NAMES = {
    "substantiated": "Substantiated",
    "not_substantiated": "Not substantiated",
    "advice_given": "Advice given",
    "referred": "Referred",
}


def msg(key: str, lang: str, **kw: str) -> str:
    """The neutral texts with Teams' variants and slots (Teams markdown takes `**x**`)."""
    return neutral(key, lang, PLATFORM, **kw)


def when(at: datetime | None, *, with_time: bool = True) -> str:
    """A stored time as officers and reporters read it (UTC, stated)."""
    if at is None:
        return "—"
    return at.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def person(identity: str | None) -> str:
    """A stored identity as the Teams desk shows it (no names are stored: a short id)."""
    if not identity:
        return ""
    platform, _, rest = identity.partition(":")
    user = rest.rsplit(":", 1)[-1]
    if platform == "teams":
        return f"Teams user {user[:8]}…"
    if platform == "slack":
        return f"Slack user {user}"
    return identity


def _input_text(
    id_: str,
    label: str,
    *,
    required: bool = False,
    multiline: bool = True,
    max_length: int = 3000,
    placeholder: str = "",
    style: str = "",
) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "Input.Text",
        "id": id_,
        "label": _clip(label, 300),
        "isMultiline": multiline,
        "maxLength": max_length,
        "isRequired": required,
    }
    if required:
        el["errorMessage"] = "Required"
    if placeholder:
        el["placeholder"] = _clip(placeholder, 300)
    if style:
        el["style"] = style
    return el


def _choices(
    id_: str,
    label: str,
    options: Sequence[tuple[str, str]],
    *,
    multi: bool = False,
    expanded: bool = True,
    required: bool = False,
) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": id_,
        "label": _clip(label, 300),
        "style": "expanded" if expanded else "compact",
        "isMultiSelect": multi,
        "isRequired": required,
        "choices": [{"title": _clip(t, 200), "value": v} for v, t in options],
    }
    if required:
        el["errorMessage"] = "Required"
    return el


def _show(title: str, body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    """A button that opens a small form in place (no dialog needed)."""
    return {
        "type": "Action.ShowCard",
        "title": _clip(title, 75),
        "card": {"type": "AdaptiveCard", "body": body, "actions": actions},
    }


# -- reporter side ----------------------------------------------------------------------------


def report_form(
    lang: str,
    *,
    session_id: str = "",
    officers: Sequence[tuple[str, str]] = (),
    notice: str = "",
    form_id: str | None = None,
) -> Card:
    """How do you want to speak up — with what each option protects and what it cannot.

    `form_id` is a random id of this one form: its submission is claimed once by the case
    service, so a second press of Submit records nothing. It is not derived from anyone.
    """
    body: list[dict[str, Any]] = [text(msg("report_title", lang), size="Large", weight="Bolder")]
    if notice:
        body.append(notice_block(notice))
    body.append(text(msg("report_intro", lang)))
    for m in ("named", "confidential", "anonymous"):
        body.append(text(f"**{msg(f'mode_{m}', lang)}** — {msg(f'mode_{m}_help', lang)}"))
    body.append(
        _choices(
            MODE,
            msg("report_title", lang),
            [(m, msg(f"mode_{m}", lang)) for m in ("named", "confidential", "anonymous")],
            required=True,
        )
    )
    if not session_id:
        body.append(
            _choices(
                TOPIC,
                msg("topic_label", lang),
                [(t, TOPIC_NAMES[t]["zh" if lang == "zh" else "en"]) for t in TOPICS],
                expanded=False,
            )
        )
    body.append(
        _input_text(NARRATIVE, msg("narrative", lang), placeholder=msg("narrative_hint", lang))
    )
    if officers:
        body.append(_choices(EXCLUDE, msg("exclude", lang), officers, multi=True, expanded=False))
    body.append(
        _input_text(
            PASSPHRASE, msg("passphrase", lang), multiline=False, max_length=200, style="Password"
        )
    )
    data = {"f": form_id or uuid.uuid4().hex, "s": session_id}
    return finish(body, [execute(msg("submit", lang), V_REPORT_SUBMIT, data, style="positive")])


def receipt_card(lang: str, ref: str, due: datetime, receipt: str | None) -> Card:
    """The answer to the reporter's own submit (only they see it; never posted)."""
    body = [text("✅ " + msg("report_done", lang, ref=ref, due=when(due)), weight="Bolder")]
    if receipt:
        body.append(text(msg("receipt", lang, code=receipt), color="Attention"))
    return finish(body)


def _questions(
    r: ReporterView, lang: str, clip: int = 3000, last: int = 10
) -> list[dict[str, Any]]:
    if not r.questions:
        return [text(msg("no_questions", lang), isSubtle=True)]
    out: list[dict[str, Any]] = []
    if len(r.questions) > last:
        out.append(text(f"… {len(r.questions) - last} earlier", isSubtle=True))
    for at, q, a in r.questions[-last:]:
        out.append(typed(_clip(q, clip), label=when(at)))
        if a:
            out.append(typed(_clip(a, clip), label="→", italic=True))
    return out


# what a reporter's card shows of long exchanges, tried in order until it fits in 28 KB
FITS = ((3000, 10), (1000, 5), (300, 3), (100, 1))


def _fitted(build: Callable[[int, int], Card]) -> Card:
    for clip, last in FITS[:-1]:
        try:
            return build(clip, last)
        except ValueError:
            continue
    return build(*FITS[-1])


def status_login_card(lang: str, named: Sequence[ReporterView], notice: str = "") -> Card:
    """`status`: a named/confidential reporter's own cases, and the receipt login."""
    return _fitted(lambda clip, last: _status_login(lang, named, notice, clip, last))


def _status_login(
    lang: str, named: Sequence[ReporterView], notice: str, clip: int, last: int
) -> Card:
    body: list[dict[str, Any]] = [text(msg("status_title", lang), size="Large", weight="Bolder")]
    if notice:
        body.append(notice_block(notice))
    for r in named[:5]:
        body.append(text(f"**{r.ref}** · {r.status}", separator=True))
        body.extend(_questions(r, lang, min(clip, 1000), min(last, 3)))
        if r.status != "closed" and r.questions:
            body.append(
                {
                    "type": "ActionSet",
                    "actions": [
                        execute(msg("answer_label", lang), V_STATUS_OPEN, {"c": _case_of(r.token)})
                    ],
                }
            )
    body.append(_input_text(RECEIPT, msg("receipt_label", lang), multiline=False, max_length=40))
    body.append(
        _input_text(
            PASSPHRASE, msg("passphrase", lang), multiline=False, max_length=200, style="Password"
        )
    )
    return finish(body, [execute(msg("submit", lang), V_STATUS_LOGIN)])


def _case_of(token: str) -> str:
    return token.split(".", 1)[0]


def reporter_card(r: ReporterView, lang: str, *, anonymous: bool, notice: str = "") -> Card:
    """One report as its reporter sees it: status, compliance's questions, an answer box.

    An anonymous reporter's card carries the short-lived token of their login (it names the
    case, not them); a named reporter's card carries the case id and is checked by identity.
    """
    return _fitted(lambda clip, last: _reporter(r, lang, anonymous, notice, clip, last))


def _reporter(
    r: ReporterView, lang: str, anonymous: bool, notice: str, clip: int, last: int
) -> Card:
    body: list[dict[str, Any]] = [text(f"**{r.ref}** · {r.status}", size="Medium")]
    if notice:
        body.append(notice_block(notice))
    body.extend(_questions(r, lang, clip, last))
    actions: list[dict[str, Any]] = []
    if r.status != "closed" and r.questions:
        body.append(_input_text(ANSWER, msg("answer_label", lang), required=True))
        data = {"k": r.token} if anonymous else {"c": _case_of(r.token)}
        actions.append(execute(msg("submit", lang), V_STATUS_ANSWER, data))
    return finish(body, actions)


def question_card(
    ref: str, question: str, case_id: str, lang: str, *, confidential: bool = False
) -> Card:
    """Compliance asks a named or confidential reporter something (their personal chat).

    A confidential reporter is also offered to let the whole case team see who they are (as
    in Slack's DM): until then only the assigned officer does. The button carries the case id
    only; the desk checks on the server that the clicker is the case's reporter."""
    body = [text("💬 " + msg("compliance_asks", lang, ref=ref)), typed(_clip(question, 3000))]
    actions = [execute(msg("answer_label", lang), V_STATUS_OPEN, {"c": case_id})]
    if confidential:
        body.append(text(msg("consent_offer", lang), isSubtle=True, spacing="Medium"))
        actions.append(execute(msg("consent_button", lang), V_CONSENT, {"c": case_id}))
    return finish(body, actions)


def consent_card(ref: str, lang: str) -> Card:
    """The answer to the reporter's own consent click (only they see it)."""
    return finish([text(f"**{ref}**"), text("✅ " + msg("consent_thanks", lang))])


# -- compliance side --------------------------------------------------------------------------


def _facts(c: CaseView) -> list[dict[str, str]]:
    icon = SEVERITY_ICON.get(c.severity, "")
    status = c.status + (f" ({OUTCOME_NAMES.get(c.outcome, c.outcome)})" if c.outcome else "")
    facts = [
        {"title": "Severity", "value": f"{icon} {c.severity}"},
        {"title": "Status", "value": status},
        {"title": "Assignee", "value": person(c.assignee) or "unassigned"},
        {"title": "Report", "value": c.mode},
        {"title": "Acknowledge by", "value": when(c.ack_due)},
    ]
    if c.feedback_due:
        facts.append({"title": "Feedback by", "value": when(c.feedback_due, with_time=False)})
    return facts


def topic_name(topic: str) -> str:
    return TOPIC_NAMES.get(topic, {"en": topic})["en"]


def case_card(c: CaseView, *, notice: str = "", repeat: bool = False) -> Card:
    """The compliance channel card: no narrative, no path, no reporter (channels are read by
    many and exported). `notice` is for the clicking officer's own copy only."""
    body: list[dict[str, Any]] = [
        text(
            f"{c.ref} · {topic_name(c.topic)}",
            size="Large",
            weight="Bolder",
            color=SEVERITY_COLOR.get(c.severity, "Default"),
        ),
    ]
    if notice:
        body.append(notice_block(notice))
    if repeat:
        body.append(
            text(
                "An earlier attempt to post this card was interrupted before Teams answered. "
                f"If {c.ref} appears twice in this channel, work from this card.",
                isSubtle=True,
            )
        )
    body.append({"type": "FactSet", "facts": _facts(c)})
    data = {"c": c.id}
    actions: list[dict[str, Any]] = []
    if c.status == "new":
        actions.append(execute("Acknowledge", V_ACK, data, style="positive"))
    if c.status != "closed":
        actions += [
            execute("Assign to me", V_ASSIGN_ME, data),
            execute("View details", V_VIEW, data),
            _show(
                "Ask reporter",
                [_input_text(TEXT, "Question (relayed to the reporter)", required=True)],
                [execute("Send question", V_ASK, data)],
            ),
            _show(
                "Note",
                [_input_text(TEXT, "Note (internal, in the timeline)", required=True)],
                [execute("Save note", V_NOTE, data)],
            ),
            _show(
                "Close",
                [
                    _choices(
                        OUTCOME,
                        "Outcome",
                        [(o, OUTCOME_NAMES[o]) for o in OUTCOMES],
                        expanded=False,
                        required=True,
                    ),
                    _input_text(TEXT, "Reason", required=True),
                ],
                [execute("Close case", V_CLOSE, data, style="destructive")],
            ),
        ]
    else:
        actions += [execute("View details", V_VIEW, data), execute("Reopen", V_REOPEN, data)]
    return finish(body, actions)


def summary(c: CaseView) -> str:
    """The notification preview (activity summary): what the card shows, nothing more."""
    return f"{c.ref}: {topic_name(c.topic)}, severity {c.severity}, {c.status}"


def details_card(c: CaseView) -> Card:
    """Private details for one officer (see `_details`); a long case is shown shortened
    (latest timeline entries, clipped texts) rather than not at all, under Teams' 28 KB."""
    for entries, clip in ((20, 1500), (12, 500), (6, 200)):
        try:
            return _details(c, entries, clip, shortened=entries < 20)
        except ValueError:
            continue
    return _details(c, 3, 100, shortened=True)


def _details(c: CaseView, entries: int, clip: int, *, shortened: bool) -> Card:
    """Private details for one officer: facts, narrative, reporter where allowed, timeline.

    Sent only as the invoke response to that officer's own click: Teams shows it to the
    clicker alone, and the next update of the channel card replaces it again.
    """
    who = {
        "named": person(c.reporter) or "—",
        "confidential": person(c.reporter) or "confidential (hidden)",
        "anonymous": "anonymous",
    }.get(c.mode, "—")
    body: list[dict[str, Any]] = [
        text(f"{c.ref} · details (only you see this)", size="Large", weight="Bolder"),
        {"type": "FactSet", "facts": [{"title": "Reporter", "value": who}, *_facts(c)]},
    ]
    if shortened:
        body.append(
            text(
                f"Shortened to fit a Teams card: texts clipped to {clip} characters, the "
                f"latest {entries} timeline entries.",
                isSubtle=True,
            )
        )
    facts = c.facts or {}
    if facts:
        body.append(typed(f"{facts.get('tree', '')} → {facts.get('outcome', '')}", label="Path"))
        for st in facts.get("steps", []):
            for q, a in st.get("entries", []):
                body.append(typed(_clip(str(a), clip), label=_clip(str(q), 300)))
    if c.narrative:
        body.append(text("**Narrative**", spacing="Medium"))
        body.append(typed(_clip(c.narrative, clip * 2)))
    body.append(text("**Timeline**", spacing="Medium", separator=True))
    for at, kind, actor, note in c.timeline[-entries:]:
        line = f"{when(at)} {kind} {person(actor)}".strip()
        shown = note if note and kind in ("note", "ask", "answer", "close", "reopen") else ""
        body.append(typed(_clip(shown, clip), label=line) if shown else text(line, isSubtle=True))
    return finish(body, [execute("Back to the card", V_CARD, {"c": c.id})])


def reminder_text(c: CaseView, clock: str, point: str) -> str:
    due = c.ack_due if clock == "ack" else c.feedback_due
    what = "acknowledge" if clock == "ack" else "give feedback on"
    lead = "OVERDUE" if point.startswith("overdue") else "Reminder"
    return f"⏰ **{lead}**: {what} {c.ref} by {when(due)}."
