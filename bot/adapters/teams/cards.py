"""Pure Adaptive Card 1.5 builders: engine replies and service summaries -> card dicts.

One card per consultation step, updated in place: every button is an `Action.Execute`
whose `data` carries the session, node and state version, so the service can refuse a
stale or duplicated click and any instance can handle it. Text we wrote (messages, trees)
goes into markdown `TextBlock`s; text a user typed goes only into `TextRun`s, which Teams
never interprets as markdown, so nothing typed can turn into a link or formatting.
Every card stays under Teams' 28 KB limit (checked in `finish`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.adapters.teams.text import msg
from bot.core.replies import (
    Ask,
    AskText,
    Continue,
    DecisionRecord,
    OutcomeReply,
    Reply,
    Say,
    StepHeader,
    Weigh,
)
from bot.search import Findings, why_line
from bot.service import SessionInfo, TreeInfo

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
MAX_BYTES = 28 * 1024
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ANSWER = "answer"  # id of the free-text input of a step
DESCRIBE = "describe"  # id of the "describe your situation" input
SEVERITY_ICON = {"none": "⚪", "low": "🟢", "medium": "🟡", "high": "🟠", "critical": "🔴"}
SEVERITY_COLOR = {"high": "Warning", "critical": "Attention"}

# verbs of Action.Execute (the invoke handler dispatches on them)
V_START, V_CHOOSE, V_PROCEED, V_BACK, V_ANSWER = "start", "choose", "proceed", "back", "answer"
V_SAVE, V_RESUME, V_PICK, V_SEARCH = "save", "resume", "pick", "search"
# the outcome's "Report to compliance…": handled by the desk (bot/adapters/teams/cases.py),
# whose verbs all start with `case.`; data: s = the consultation's session id
V_REPORT = "case.report"

_SLACK_BOLD = re.compile(r"(?<![*\w])\*(?!\*)([^*\n]+?)\*(?![*\w])")


def markdown(text: str) -> str:
    """Neutral message markup as Teams markdown: `**bold**` stays, a single-asterisk
    `*bold*` (the older Slack-style texts) becomes `**bold**`, and lines that start with a
    bullet become markdown list items (Teams renders `- ` lists, not `•`)."""
    text = _SLACK_BOLD.sub(r"**\1**", text)
    return "\n".join(
        "- " + line[2:] if line.startswith("• ") else line for line in text.split("\n")
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: str, **style: Any) -> dict[str, Any]:
    """Our own words (markdown allowed)."""
    return {"type": "TextBlock", "text": markdown(value), "wrap": True, **style}


def typed(value: str, *, label: str = "", **style: Any) -> dict[str, Any]:
    """Words someone typed: a TextRun, never parsed as markdown."""
    runs: list[dict[str, Any]] = []
    if label:
        runs.append({"type": "TextRun", "text": label + " ", "weight": "Bolder"})
    runs.append({"type": "TextRun", "text": value, **style})
    return {"type": "RichTextBlock", "inlines": runs}


def execute(
    title: str, verb: str, data: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": _clip(title, 75),
        "verb": verb,
        "data": {"verb": verb, **(data or {})},
    }
    action.update(extra)
    return action


def finish(body: list[dict[str, Any]], actions: Sequence[dict[str, Any]] = ()) -> Card:
    card: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        card["actions"] = list(actions)
    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    if size > MAX_BYTES:
        raise ValueError(f"card of {size} bytes, over Teams' {MAX_BYTES}")
    return card


def attachment(card: Card) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": card}


def message(card: Card, summary: str = "") -> dict[str, Any]:
    """A message activity carrying one card (what the connector is sent)."""
    activity: dict[str, Any] = {"type": "message", "attachments": [attachment(card)]}
    if summary:
        activity["summary"] = _clip(summary, 200)
    return activity


def notice_block(notice: str) -> dict[str, Any]:
    return text(f"⚠️ {notice}", color="Warning", weight="Bolder")


# -- consultation ------------------------------------------------------------------------------


def _click(session_id: str, node: str, version: int, **more: Any) -> dict[str, Any]:
    return {"s": session_id, "n": node, "v": version, **more}


def _option_row(label: str, i: int, lang: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "ColumnSet",
        "separator": True,
        "columns": [
            {"type": "Column", "width": "stretch", "items": [text(f"{i + 1}. {label}")]},
            {
                "type": "Column",
                "width": "auto",
                "verticalContentAlignment": "Center",
                "items": [
                    {
                        "type": "ActionSet",
                        "actions": [execute("选择" if lang == "zh" else "Choose", V_CHOOSE, data)],
                    }
                ],
            },
        ],
    }


def _controls(session_id: str, node: str, version: int, can_back: bool, lang: str) -> list[Any]:
    data = _click(session_id, node, version)
    out = [execute(msg("back", lang), V_BACK, data)] if can_back else []
    out.append(execute(msg("save_exit", lang), V_SAVE, data))
    return out


def outcome_blocks(o: OutcomeReply, lang: str) -> list[dict[str, Any]]:
    icon = SEVERITY_ICON.get(o.severity, "")
    blocks: list[dict[str, Any]] = [
        text(o.headline, size="Large", weight="Bolder"),
        text(
            f"{icon} {msg('severity', lang)}: **{msg('sev_' + o.severity, lang)}**",
            isSubtle=True,
            color=SEVERITY_COLOR.get(o.severity, "Default"),
        ),
        text(msg("advice", lang), weight="Bolder", spacing="Medium"),
        text(o.advice),
    ]
    if o.cites:
        blocks.append(text(msg("cites", lang), weight="Bolder", spacing="Medium"))
        blocks.append(text("\n".join(f"- **{c.id}** {c.title} — _{c.source}_" for c in o.cites)))
    if o.reflect:
        blocks.append(text(msg("reflect", lang), weight="Bolder", spacing="Medium"))
        blocks.append(text("\n".join(f"- {r}" for r in o.reflect)))
    if o.escalation == "required":
        blocks.append(text(f"🚨 {msg('escalation_required', lang)}", color="Attention"))
    elif o.escalation == "offered":
        blocks.append(text(f"ℹ️ {msg('escalation_offered', lang)}"))
    return blocks


def speak_up_action(session_id: str, lang: str) -> dict[str, Any]:
    """The 'Report to compliance…' button of an outcome that offers or requires a report.
    It carries the session, so the report is filed from this consultation (its facts and
    path) and the service can check the consultation is the clicker's own."""
    return execute(msg("report_button", lang), V_REPORT, {"s": session_id})


def record_blocks(rec: DecisionRecord, lang: str) -> list[dict[str, Any]]:
    """The decision record: the path by the four steps (what was chosen or typed)."""
    blocks: list[dict[str, Any]] = [
        text(
            f"{msg('record_title', lang)}: {rec.title}",
            size="Medium",
            weight="Bolder",
            separator=True,
            spacing="Large",
        ),
        text(f"{rec.tree_id} v{rec.tree_version}", isSubtle=True, spacing="None"),
    ]
    for i, step in enumerate(rec.steps[:3], start=1):
        blocks.append(text(f"**{i}. {step.title}**", spacing="Medium"))
        for e in step.entries:
            blocks.append(text(f"- {e.question}", spacing="Small"))
            blocks.append(typed(e.answer) if e.typed else text(f"→ {e.answer}", spacing="None"))
        if step.weighing:
            blocks.append(
                {
                    "type": "FactSet",
                    "facts": [{"title": n, "value": t} for n, t in step.weighing],
                }
            )
    if len(rec.steps) > 3:
        blocks.append(
            text(f"**4. {rec.steps[3].title}**: {rec.outcome.headline}", spacing="Medium")
        )
    return blocks


def walk_card(
    replies: Sequence[Reply],
    session_id: str,
    lang: str,
    *,
    record: DecisionRecord | None = None,
    handoff_title: str | None = None,
    notice: str = "",
) -> Card:
    """The card for the current node of a consultation (one node per card)."""
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if notice:
        body.append(notice_block(notice))
    for r in replies:
        if isinstance(r, StepHeader):
            body.append(text(r.title, size="Medium", weight="Bolder", style="heading"))
            body.append(text(f"_{r.guidance}_", isSubtle=True, spacing="None"))
        elif isinstance(r, Say):
            body.append(text(r.text))
        elif isinstance(r, Weigh):
            body.append(text(msg("weigh", lang), weight="Bolder", separator=True))
            body.append(
                {"type": "FactSet", "facts": [{"title": n, "value": t} for n, t in r.lenses]}
            )
        elif isinstance(r, Ask):
            for i, label in r.options:
                body.append(_option_row(label, i, lang, _click(session_id, r.node, r.version, o=i)))
            actions = _controls(session_id, r.node, r.version, r.can_back, lang)
        elif isinstance(r, AskText):
            body.append(
                {
                    "type": "Input.Text",
                    "id": ANSWER,
                    "label": _clip(r.prompt, 2000),
                    "isMultiline": True,
                    "maxLength": r.max_length,
                    "isRequired": not r.optional,
                    "errorMessage": msg("teams_answer_needed", lang),
                }
            )
            actions = [
                execute(
                    msg("submit", lang),
                    V_ANSWER,
                    _click(session_id, r.node, r.version),
                    style="positive",
                ),
                *_controls(session_id, r.node, r.version, r.can_back, lang),
            ]
        elif isinstance(r, Continue):
            actions = [
                execute(
                    msg("continue", lang),
                    V_PROCEED,
                    _click(session_id, r.node, r.version),
                    style="positive",
                ),
                *_controls(session_id, r.node, r.version, r.can_back, lang),
            ]
        elif isinstance(r, OutcomeReply):
            body.extend(outcome_blocks(r, lang))
            if record is not None:
                body.extend(record_blocks(record, lang))
            body.append(text(msg("teams_done", lang), isSubtle=True, spacing="Medium"))
            actions = []
            if r.handoff and handoff_title:
                actions.append(
                    execute(msg("handoff", lang, title=handoff_title), V_START, {"t": r.handoff})
                )
            if r.escalation in ("required", "offered"):
                actions.append(speak_up_action(session_id, lang))
    return finish(body, actions)


def welcome_card(
    trees: Sequence[TreeInfo],
    unfinished: Sequence[SessionInfo],
    lang: str,
    *,
    greeting: bool = False,
    contact: str = "",
    notice: str = "",
) -> Card:
    """What it is and is not, unfinished consultations, the topics, and a search box."""
    body: list[dict[str, Any]] = []
    if notice:
        body.append(notice_block(notice))
    body.append(text(msg("app_name", lang), size="Large", weight="Bolder"))
    if greeting:
        body.append(text(msg("teams_welcome", lang)))
        body.append(text(msg("privacy_note", lang) + ".", isSubtle=True))
    else:
        body.append(text(msg("pick_topic", lang)))
    if contact:
        body.append(typed(contact, label=msg("contact", lang, contact="").strip()))
    if unfinished:
        body.append(text(msg("unfinished", lang), weight="Bolder", separator=True))
        for s in unfinished[:5]:
            body.append(
                {
                    "type": "ColumnSet",
                    "columns": [
                        {
                            "type": "Column",
                            "width": "stretch",
                            "items": [text(f"**{s.title}** · {s.step}/4")],
                        },
                        {
                            "type": "Column",
                            "width": "auto",
                            "items": [
                                {
                                    "type": "ActionSet",
                                    "actions": [
                                        execute(msg("resume", lang), V_RESUME, {"s": s.id})
                                    ],
                                }
                            ],
                        },
                    ],
                }
            )
    body.append(text(msg("start", lang), weight="Bolder", separator=True))
    ordered = sorted(trees, key=lambda t: t.topic != "triage")
    for t in ordered:
        title = (
            f"🤔 **{msg('not_sure', lang)}** — {t.title}"
            if t.topic == "triage"
            else (f"**{t.title}**")
        )
        body.append(
            {
                "type": "ColumnSet",
                "separator": True,
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [text(title), text(t.summary, isSubtle=True, spacing="None")],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "verticalContentAlignment": "Center",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    execute(
                                        "开始" if lang == "zh" else "Start", V_START, {"t": t.id}
                                    )
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    body.extend(_describe(lang))
    return finish(body, [execute(msg("search_submit", lang), V_SEARCH)])


def _describe(lang: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "Input.Text",
            "id": DESCRIBE,
            "label": msg("describe_label", lang),
            "placeholder": msg("describe_hint", lang),
            "isMultiline": True,
            "maxLength": 2000,
            "separator": True,
        }
    ]


def search_card(found: Findings, lang: str, *, notice: str = "") -> Card:
    """The three best guides with why each, then always triage and the way back to all."""
    body: list[dict[str, Any]] = []
    if notice:
        body.append(notice_block(notice))
    if found.truncated:
        body.append(text(msg("search_cut", lang), isSubtle=True))
    actions: list[dict[str, Any]] = []
    if found.status == "ok":
        body.append(text(msg("search_intro", lang), weight="Bolder"))
        for i, g in enumerate(found.guides):
            body.append(
                {
                    "type": "ColumnSet",
                    "separator": True,
                    "columns": [
                        {
                            "type": "Column",
                            "width": "stretch",
                            # the why-words are what the person typed: inert text only
                            "items": [
                                text(f"**{g.title}**"),
                                typed(why_line(g, lang), italic=True),
                            ],
                        },
                        {
                            "type": "Column",
                            "width": "auto",
                            "verticalContentAlignment": "Center",
                            "items": [
                                {
                                    "type": "ActionSet",
                                    "actions": [
                                        execute(
                                            "开始" if lang == "zh" else "Start",
                                            V_START,
                                            {"t": g.id},
                                            **({"style": "positive"} if i == 0 else {}),
                                        )
                                    ],
                                }
                            ],
                        },
                    ],
                }
            )
        body.append(text(msg("search_way_out", lang), spacing="Medium"))
    else:
        body.append(text(msg("search_empty" if found.status == "empty" else "search_none", lang)))
    if found.triage is not None:
        actions.append(execute(msg("not_sure", lang), V_START, {"t": found.triage.id}))
    actions.append(execute(msg("all_guides", lang), V_PICK))
    body.append(text(msg("search_private", lang), isSubtle=True))
    return finish(body, actions)


def note_card(note: str, lang: str) -> Card:
    """A short statement (saved, refused, help) that replaces a card or is sent alone."""
    return finish([text(msg("app_name", lang), weight="Bolder"), text(note)])
