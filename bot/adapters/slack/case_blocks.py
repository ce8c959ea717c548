"""Pure Block Kit builders for the case desk: report modal, channel card, private details.

The channel card carries only the reference, topic, severity, status, assignee and due
dates: channels get exported, so the narrative, the path and the reporter never go there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)

from bot.adapters.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    SEVERITY_ICON,
    _button,
    _clip,
    _dicts,
    _md,
    _modal,
    _section,
    escape,
    slack_date,
)
from bot.adapters.slack.text import msg
from bot.cases.reports import Figures, QueueItem
from bot.cases.service import OUTCOMES, CaseView, ReporterView

REPORT_VIEW = "eb.report"
STATUS_VIEW = "eb.status"
ANSWER_VIEW = "eb.status_answer"
CASE_TEXT_VIEW = "eb.case_text"  # ask / note
CASE_CLOSE_VIEW = "eb.case_close"

CASE_ACK = "eb.case.acknowledge"
CASE_ASSIGN_ME = "eb.case.assign_me"
CASE_ASSIGN = "eb.case.assign"
CASE_VIEW = "eb.case.view"
CASE_ASK = "eb.case.ask"
CASE_NOTE = "eb.case.note"
CASE_CLOSE = "eb.case.close"
CASE_REOPEN = "eb.case.reopen"
REPORTER_ANSWER = "eb.reporter_answer"
REPORTER_CONSENT = "eb.reporter_consent"

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


def _text_input(
    block_id: str,
    label: str,
    *,
    optional: bool,
    max_length: int = 3000,
    multiline: bool = True,
    hint: str = "",
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=_clip(label, 2000)),
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id="value", multiline=multiline, max_length=max_length
        ),
    )


# -- reporter side ------------------------------------------------------------------------------


def report_view(lang: str, *, session_id: str = "", ask_topic: bool = False) -> dict[str, Any]:
    """How do you want to speak up — with what each option protects and cannot."""
    modes = [
        Option(
            value=m,
            text=PlainTextObject(text=msg(f"mode_{m}", lang)),
            description=PlainTextObject(text=_clip(msg(f"mode_{m}_help", lang), 150)),
        )
        for m in ("named", "confidential", "anonymous")
    ]
    blocks: list[Block] = [_section(msg("report_intro", lang))]
    for m in ("named", "confidential", "anonymous"):
        blocks.append(_section(f"*{msg(f'mode_{m}', lang)}* — {msg(f'mode_{m}_help', lang)}"))
    blocks.append(
        InputBlock(
            block_id="mode",
            label=PlainTextObject(text=msg("report_title", lang)),
            element=RadioButtonsElement(action_id="value", options=modes),
        )
    )
    if ask_topic:
        blocks.append(
            InputBlock(
                block_id="topic",
                label=PlainTextObject(text=msg("topic_label", lang)),
                element=StaticSelectElement(
                    action_id="value",
                    options=[
                        Option(value=t, text=PlainTextObject(text=TOPIC_NAMES[t][lang]))
                        for t in TOPICS
                    ],
                ),
            )
        )
    blocks.append(
        _text_input(
            "narrative", msg("narrative", lang), optional=True, hint=msg("narrative_hint", lang)
        )
    )
    blocks.append(
        InputBlock(
            block_id="exclude",
            label=PlainTextObject(text=msg("exclude", lang)),
            optional=True,
            element=UserMultiSelectElement(action_id="value", max_selected_items=5),
        )
    )
    blocks.append(
        _text_input(
            "passphrase", msg("passphrase", lang), optional=True, multiline=False, max_length=200
        )
    )
    return _modal(
        msg("report_title", lang),
        blocks,
        callback_id=REPORT_VIEW,
        lang=lang,
        metadata=session_id or "-",
        submit=msg("submit", lang),
    )


def report_done_view(lang: str, ref: str, due: str, receipt: str | None) -> dict[str, Any]:
    blocks: list[Block] = [
        _section(":white_check_mark: " + msg("report_done", lang, ref=ref, due=due))
    ]
    if receipt:
        blocks.append(_section(msg("receipt", lang, code=receipt)))
    return _modal(msg("report_title", lang), blocks, callback_id="eb.report_done", lang=lang)


def status_login_view(lang: str, named: Sequence[ReporterView]) -> dict[str, Any]:
    blocks: list[Block] = []
    for r in named:
        blocks.append(_section(f"*{r.ref}* · {r.status}"))
        blocks.extend(_questions(r, lang))
    blocks.append(
        _text_input(
            "receipt",
            msg("receipt_label", lang),
            optional=not named,
            multiline=False,
            max_length=40,
        )
        if not named
        else DividerBlock()
    )
    if not named:
        blocks.append(
            _text_input(
                "passphrase",
                msg("passphrase", lang),
                optional=False,
                multiline=False,
                max_length=200,
            )
        )
    return _modal(
        msg("status_title", lang),
        blocks,
        callback_id=STATUS_VIEW,
        lang=lang,
        submit=None if named else msg("submit", lang),
    )


def _questions(r: ReporterView, lang: str) -> list[Block]:
    if not r.questions:
        return [ContextBlock(elements=[_md(msg("no_questions", lang))])]
    out: list[Block] = []
    for at, q, a in r.questions:
        line = f"*{slack_date(at)}* — {escape(q)}"
        if a:
            line += f"\n> {escape(a)}"
        out.append(_section(line))
    return out


def reporter_status_view(r: ReporterView, lang: str) -> dict[str, Any]:
    blocks: list[Block] = [_section(f"*{r.ref}* · {r.status}"), *_questions(r, lang)]
    submit = None
    if r.status != "closed" and r.questions:
        blocks.append(_text_input("answer", msg("answer_label", lang), optional=False))
        submit = msg("submit", lang)
    return _modal(
        msg("status_title", lang),
        blocks,
        callback_id=ANSWER_VIEW,
        lang=lang,
        metadata=r.token,
        submit=submit,
    )


def question_message(
    ref: str, question: str, case_id: str, confidential: bool, lang: str = "en"
) -> list[dict[str, Any]]:
    """DM to a named or confidential reporter: compliance asks something."""
    blocks: list[Block] = [
        _section(f":speech_balloon: {msg('compliance_asks', lang, ref=ref)}\n> {escape(question)}"),
        ActionsBlock(
            elements=[_button(msg("answer_label", lang), REPORTER_ANSWER, case_id, "primary")]
        ),
    ]
    if confidential:
        blocks.append(ContextBlock(elements=[_md(msg("consent_offer", lang))]))
        blocks.append(
            ActionsBlock(elements=[_button(msg("consent_button", lang), REPORTER_CONSENT, case_id)])
        )
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


# -- compliance side ----------------------------------------------------------------------------


def _due(c: CaseView) -> str:
    parts = [f"*Acknowledge by* {slack_date(c.ack_due, with_time=True)}"]
    if c.feedback_due:
        parts.append(f"*Feedback by* {slack_date(c.feedback_due)}")
    return "\n".join(parts)


def person(identity: str | None) -> str:
    """A stored identity as Slack shows it: a mention for Slack users; an officer working the
    case from the Teams desk of a bank on both platforms is named as such (Slack cannot
    mention them)."""
    if not identity:
        return ""
    platform, _, rest = identity.partition(":")
    user = rest.rsplit(":", 1)[-1]
    if platform == "slack" and user:
        return f"<@{user}>"
    if platform == "teams":
        return f"Teams user `{escape(user[:8])}…`"
    return escape(identity)


def card_blocks(c: CaseView) -> list[dict[str, Any]]:
    """The compliance channel card: no narrative, no path, no reporter."""
    icon = SEVERITY_ICON.get(c.severity, "")
    topic = TOPIC_NAMES.get(c.topic, {"en": c.topic})["en"]
    assignee = person(c.assignee) or "_unassigned_"
    status = c.status + (f" ({OUTCOME_NAMES.get(c.outcome, c.outcome)})" if c.outcome else "")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"{c.ref} · {topic}")),
        SectionBlock(
            fields=[
                _md(f"*Severity*\n{icon} {c.severity}"),
                _md(f"*Status*\n{status}"),
                _md(f"*Assignee*\n{assignee}"),
                _md(f"*Report*\n{c.mode}"),
            ]
        ),
        _section(_due(c)),
    ]
    buttons: list[ButtonElement] = []
    if c.status == "new":
        buttons.append(_button("Acknowledge", CASE_ACK, c.id, "primary"))
    if c.status != "closed":
        buttons += [
            _button("Assign to me", CASE_ASSIGN_ME, c.id),
            _button("View details", CASE_VIEW, c.id),
            _button("Ask reporter", CASE_ASK, c.id),
            _button("Add note", CASE_NOTE, c.id),
            _button("Close", CASE_CLOSE, c.id, "danger"),
        ]
    else:
        buttons += [_button("View details", CASE_VIEW, c.id), _button("Reopen", CASE_REOPEN, c.id)]
    blocks.append(ActionsBlock(elements=buttons))
    if c.status != "closed":
        blocks.append(
            ActionsBlock(
                block_id=f"assign:{c.id}",
                elements=[
                    UserSelectElement(
                        action_id=CASE_ASSIGN, placeholder=PlainTextObject(text="Assign to…")
                    )
                ],
            )
        )
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def card_fallback(c: CaseView) -> str:
    return f"{c.ref}: {c.topic}, severity {c.severity}, {c.status}"


def details_view(c: CaseView) -> dict[str, Any]:
    """Private details for an officer: facts, narrative, reporter where allowed, timeline."""
    who = {
        "named": c.reporter,
        "confidential": c.reporter or "confidential (hidden)",
        "anonymous": "anonymous",
    }[c.mode] or "—"
    reporter = person(who) if ":" in who else escape(who)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"{c.ref}")),
        _section(f"*Reporter*: {reporter}\n*Status*: {c.status}\n{_due(c)}"),
    ]
    facts = c.facts or {}
    if facts:
        lines = [
            f"*{escape(str(facts.get('tree', '')))}* → {escape(str(facts.get('outcome', '')))}"
        ]
        for st in facts.get("steps", []):
            for q, a in st.get("entries", []):
                lines.append(f"• {escape(str(q))}\n   → {escape(str(a))}")
        blocks.append(_section("\n".join(lines)))
    if c.narrative:
        blocks.append(_section("*Narrative*\n" + escape(c.narrative)))
    blocks.append(DividerBlock())
    for at, kind, actor, body in c.timeline[-20:]:
        who_did = person(actor)
        text = f"{slack_date(at, with_time=True)} *{kind}* {who_did}"
        if body and kind in ("note", "ask", "answer", "close", "assign", "reopen"):
            text += "\n" + escape(body if kind != "assign" else "")
        blocks.append(ContextBlock(elements=[_md(_clip(text, 2900))]))
    return _modal("Case details", blocks, callback_id="eb.case_details", lang="en")


def text_modal(case_id: str, kind: str) -> dict[str, Any]:
    title, label = {
        "ask": ("Ask the reporter", "Question (relayed to the reporter)"),
        "note": ("Add a note", "Note (internal, in the timeline)"),
    }[kind]
    return _modal(
        title,
        [_text_input("text", label, optional=False)],
        callback_id=CASE_TEXT_VIEW,
        lang="en",
        metadata=f"{kind}:{case_id}",
        submit="Save",
    )


def close_modal(case_id: str) -> dict[str, Any]:
    blocks: list[Block] = [
        InputBlock(
            block_id="outcome",
            label=PlainTextObject(text="Outcome"),
            element=StaticSelectElement(
                action_id="value",
                options=[
                    Option(value=o, text=PlainTextObject(text=OUTCOME_NAMES[o])) for o in OUTCOMES
                ],
            ),
        ),
        _text_input("text", "Reason", optional=False),
    ]
    return _modal(
        "Close the case",
        blocks,
        callback_id=CASE_CLOSE_VIEW,
        lang="en",
        metadata=case_id,
        submit="Close case",
    )


def reminder_text(c: CaseView, clock: str, point: str) -> str:
    due = c.ack_due if clock == "ack" else c.feedback_due
    what = "acknowledge" if clock == "ack" else "give feedback on"
    lead = "OVERDUE" if point.startswith("overdue") else "Reminder"
    when = slack_date(due, with_time=True) if due else "?"
    return f":alarm_clock: {lead}: {what} {c.ref} by {when}."


def compliance_home(queue: Sequence[QueueItem], figs: Figures) -> list[Block]:
    blocks: list[Block] = [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Compliance queue")),
    ]
    if not queue:
        blocks.append(ContextBlock(elements=[_md("No open cases.")]))
    for q in queue[:15]:
        flag = ":red_circle: *overdue* · " if q.overdue else ""
        blocks.append(
            _section(
                f"{flag}*{q.ref}* · {TOPIC_NAMES.get(q.topic, {'en': q.topic})['en']} · "
                f"{SEVERITY_ICON.get(q.severity, '')} {q.severity} · {q.status} · due "
                f"{slack_date(q.due, with_time=True)}",
                _button("View details", CASE_VIEW, q.id),
            )
        )
    by_topic = ", ".join(f"{k}: {v}" for k, v in sorted(figs.by_topic.items())) or "—"
    by_sev = ", ".join(f"{k}: {v}" for k, v in sorted(figs.by_severity.items())) or "—"

    def num(v: float | None, suffix: str = "") -> str:
        return "—" if v is None else f"{v:g}{suffix}"

    share = None if figs.share_without_escalation is None else figs.share_without_escalation * 100
    blocks += [
        HeaderBlock(text=PlainTextObject(text="Figures")),
        SectionBlock(
            fields=[
                _md(f"*Cases by topic*\n{by_topic}"),
                _md(f"*By severity*\n{by_sev}"),
                _md(f"*Median days to acknowledge*\n{num(figs.median_days_to_ack)}"),
                _md(f"*Median days to close*\n{num(figs.median_days_to_close)}"),
                _md(f"*Consultations finished*\n{figs.consultations_finished}"),
                _md(f"*Resolved without escalation*\n{num(share, ' %')}"),
            ]
        ),
    ]
    return blocks
