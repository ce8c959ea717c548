"""Pure Block Kit builders: engine replies and service summaries -> Slack view/message dicts.

Built with slack_sdk's Block Kit models, whose `to_dict()` enforces the per-field limits;
what they do not count (blocks per view or message) is checked here. Every string that did
not come from our own code is escaped for mrkdwn or placed in plain_text, so a `<!channel>`
typed by a user can never ping anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.adapters.slack import actions as A
from bot.adapters.slack.text import msg
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

MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCKS = 50
SECTION_LIMIT = 3000
DESCRIBE = "eb.describe"  # picker's free-text box (dispatches on Enter); value = the text
DESCRIBE_BLOCK = "eb.describe_block"
TALK_COMPLIANCE = "eb.talk_compliance"  # opens the speak-up modal without a consultation
SEARCH_VIEW = "eb.search"
SEVERITY_ICON = {"none": "⚪", "low": "🟢", "medium": "🟡", "high": "🟠", "critical": "🔴"}


def escape(text: str) -> str:
    """Escape for mrkdwn: `&` first, then `<` and `>` (nothing in slack_sdk does this)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(when: datetime, *, with_time: bool = False) -> str:
    """A date Slack shows in each reader's own time zone (fallback: UTC ISO)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    fmt = "{date_short_pretty} {time}" if with_time else "{date_short_pretty}"
    return f"<!date^{int(when.timestamp())}^{fmt}|{when.strftime('%Y-%m-%d %H:%M UTC')}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text, SECTION_LIMIT))


def _section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(text=_md(text), accessory=accessory)


def _button(text: str, action_id: str, value: str = "", style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=_clip(text, 75)),
        action_id=action_id,
        value=value or None,
        style=style,
    )


def _dicts(blocks: Iterable[Block], limit: int) -> list[dict[str, Any]]:
    out = [b.to_dict() for b in blocks]
    if len(out) > limit:
        raise ValueError(f"{len(out)} blocks, more than Slack's {limit}")
    return out


def _modal(
    title: str,
    blocks: Sequence[Block],
    *,
    callback_id: str,
    lang: str,
    metadata: str = "",
    submit: str | None = None,
) -> dict[str, Any]:
    # the blocks are validated once by their own to_dict(); wrapping them in View() would
    # parse and validate every block a second time (measured: ~40% of a click's rendering)
    if len(metadata) > 3000 or len(callback_id) > 255:
        raise ValueError("private_metadata or callback_id over Slack's limit")
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": PlainTextObject(text=_clip(title, 24)).to_dict(),
        "close": PlainTextObject(text="关闭" if lang == "zh" else "Close").to_dict(),
        "blocks": _dicts(blocks, MAX_VIEW_BLOCKS),
    }
    if submit:
        view["submit"] = PlainTextObject(text=_clip(submit, 24)).to_dict()
    if metadata:
        view["private_metadata"] = metadata
    return view


# -- consultation ----------------------------------------------------------------------------


def outcome_blocks(o: OutcomeReply, lang: str) -> list[Block]:
    icon = SEVERITY_ICON.get(o.severity, "")
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_clip(o.headline, 150))),
        ContextBlock(
            elements=[_md(f"{icon} {msg('severity', lang)}: *{msg('sev_' + o.severity, lang)}*")]
        ),
        _section(f"*{msg('advice', lang)}*\n{escape(o.advice)}"),
    ]
    if o.cites:
        lines = "\n".join(f"• *{c.id}* {escape(c.title)} — _{escape(c.source)}_" for c in o.cites)
        blocks.append(_section(f"*{msg('cites', lang)}*\n{lines}"))
    if o.reflect:
        lines = "\n".join(f"• {escape(r)}" for r in o.reflect)
        blocks.append(_section(f"*{msg('reflect', lang)}*\n{lines}"))
    if o.escalation == "required":
        blocks.append(_section(f":rotating_light: *{msg('escalation_required', lang)}*"))
    elif o.escalation == "offered":
        blocks.append(_section(f":information_source: {msg('escalation_offered', lang)}"))
    return blocks


def walk_view(
    replies: Sequence[Reply],
    session_id: str,
    lang: str,
    *,
    handoff_title: str | None = None,
    notice: str = "",
) -> dict[str, Any]:
    """The modal for the current node of a consultation (one node per view)."""
    blocks: list[Block] = []
    if notice:
        blocks.append(ContextBlock(elements=[_md(f":warning: {escape(notice)}")]))
    submit: str | None = None
    metadata = ""
    controls: list[ButtonElement] = []
    for r in replies:
        if isinstance(r, StepHeader):
            blocks.append(HeaderBlock(text=PlainTextObject(text=_clip(r.title, 150))))
            blocks.append(ContextBlock(elements=[_md(f"_{escape(r.guidance)}_")]))
        elif isinstance(r, Say):
            blocks.append(_section(escape(r.text)))
        elif isinstance(r, Weigh):
            blocks.append(DividerBlock())
            lenses = "\n".join(f"• *{escape(n)}*: {escape(t)}" for n, t in r.lenses)
            blocks.append(_section(f"*{msg('weigh', lang)}*\n{lenses}"))
            blocks.append(DividerBlock())
        elif isinstance(r, Ask):
            for i, label in r.options:
                click = A.Click(session=session_id, node=r.node, version=r.version, option=i)
                blocks.append(
                    _section(
                        f"{i + 1}. {escape(label)}",
                        _button(
                            "选择" if lang == "zh" else "Choose", f"{A.CHOOSE}:{i}", click.encode()
                        ),
                    )
                )
            controls = _controls(session_id, r.node, r.version, r.can_back, lang)
        elif isinstance(r, AskText):
            blocks.append(
                InputBlock(
                    block_id=A.ANSWER_BLOCK,
                    label=PlainTextObject(text=_clip(r.prompt, 2000)),
                    optional=r.optional,
                    element=PlainTextInputElement(
                        action_id=A.ANSWER_INPUT, multiline=True, max_length=r.max_length
                    ),
                )
            )
            submit = msg("submit", lang)
            metadata = A.Click(session=session_id, node=r.node, version=r.version).encode()
            controls = _controls(session_id, r.node, r.version, r.can_back, lang)
        elif isinstance(r, Continue):
            click = A.Click(session=session_id, node=r.node, version=r.version)
            controls = [
                _button(msg("continue", lang), A.CONTINUE, click.encode(), "primary"),
                *_controls(session_id, r.node, r.version, r.can_back, lang),
            ]
        elif isinstance(r, OutcomeReply):
            blocks.extend(outcome_blocks(r, lang))
            controls = [_button(msg("send_record", lang), A.RECORD_DM, session_id, "primary")]
            if r.escalation in ("offered", "required"):
                controls.insert(
                    0,
                    _button(
                        msg("report_button", lang),
                        A.REPORT,
                        session_id,
                        "danger" if r.escalation == "required" else None,
                    ),
                )
            if r.handoff and handoff_title:
                controls.append(
                    _button(msg("handoff", lang, title=handoff_title), A.START, r.handoff)
                )
    if controls:
        blocks.append(ActionsBlock(elements=controls))
    return _modal(
        msg("app_name", lang),
        blocks,
        callback_id=A.WALK_VIEW,
        lang=lang,
        metadata=metadata or session_id,
        submit=submit,
    )


def _controls(
    session_id: str, node: str, version: int, can_back: bool, lang: str
) -> list[ButtonElement]:
    click = A.Click(session=session_id, node=node, version=version).encode()
    out = [_button(msg("back", lang), A.BACK, click)] if can_back else []
    out.append(_button(msg("save_exit", lang), A.SAVE, click))
    return out


def picker_view(
    trees: Sequence[TreeInfo],
    unfinished: Sequence[SessionInfo],
    lang: str,
    *,
    metadata: str = "",
    about_channel: str = "",
) -> dict[str, Any]:
    """Topic picker: unfinished consultations first, then trees by topic, triage on top."""
    blocks: list[Block] = []
    if about_channel:
        blocks.append(
            ContextBlock(
                elements=[_md(msg("about_message", lang, channel=f"<#{escape(about_channel)}>"))]
            )
        )
    blocks.append(_section(msg("pick_topic", lang)))
    blocks.append(describe_input(lang))
    if unfinished:
        blocks.append(HeaderBlock(text=PlainTextObject(text=msg("unfinished", lang))))
        for i, s in enumerate(unfinished[:5]):
            blocks.append(
                _section(
                    f"*{escape(s.title)}* · {s.step}/4",
                    _button(msg("resume", lang), f"{A.RESUME}:{i}", s.id),
                )
            )
        blocks.append(DividerBlock())
    ordered = sorted(trees, key=lambda t: t.topic != "triage")
    for i, t in enumerate(ordered):
        label = f"*{escape(t.title)}*\n{escape(t.summary)}"
        if t.topic == "triage":
            label = f":thinking_face: *{msg('not_sure', lang)}* — {escape(t.title)}"
        blocks.append(
            _section(
                label,
                _button(
                    msg("start", lang) if t.topic != "triage" else msg("not_sure", lang),
                    f"{A.START}:{i}",
                    t.id,
                ),
            )
        )
    return _modal(
        msg("app_name", lang),
        blocks,
        callback_id=A.PICKER_VIEW,
        lang=lang,
        metadata=metadata,
        submit=msg("search_submit", lang),  # Slack wants a submit wherever an input block is
    )


def describe_input(lang: str) -> InputBlock:
    """ "Describe your situation": Enter sends the text as a block action (no submit button)."""
    return InputBlock(
        block_id=DESCRIBE_BLOCK,
        label=PlainTextObject(text=msg("describe_label", lang)),
        hint=PlainTextObject(text=msg("describe_hint", lang)),
        optional=True,
        dispatch_action=True,
        element=PlainTextInputElement(
            action_id=DESCRIBE,
            max_length=2000,
            dispatch_action_config={"trigger_actions_on": ["on_enter_pressed"]},
        ),
    )


def search_view(found: Findings, lang: str, *, notice: str = "") -> dict[str, Any]:
    """The three best guides with why each, then always triage and 'talk to compliance'."""
    blocks: list[Block] = []
    if notice:
        blocks.append(ContextBlock(elements=[_md(escape(notice))]))
    if found.truncated:
        blocks.append(ContextBlock(elements=[_md(msg("search_cut", lang))]))
    if found.status == "ok":
        blocks.append(_section(f"*{msg('search_intro', lang)}*"))
        for i, g in enumerate(found.guides):
            blocks.append(
                _section(
                    f"*{escape(g.title)}*\n_{escape(why_line(g, lang))}_",
                    _button(
                        msg("start", lang), f"{A.START}:{i}", g.id, "primary" if i == 0 else None
                    ),
                )
            )
        blocks.append(DividerBlock())
        blocks.append(_section(msg("search_way_out", lang)))
    else:
        blocks.append(
            _section(msg("search_empty" if found.status == "empty" else "search_none", lang))
        )
    ways: list[ButtonElement] = []
    if found.triage is not None:
        ways.append(_button(msg("not_sure", lang), f"{A.START}:9", found.triage.id))
    ways.append(_button(msg("talk_compliance", lang), TALK_COMPLIANCE, "report"))
    ways.append(_button(msg("all_guides", lang), A.HOME_START, "start"))
    blocks.append(ActionsBlock(elements=ways))
    blocks.append(describe_input(lang))
    blocks.append(ContextBlock(elements=[_md(msg("search_private", lang))]))
    return _modal(
        msg("app_name", lang),
        blocks,
        callback_id=SEARCH_VIEW,
        lang=lang,
        submit=msg("search_submit", lang),
    )


def notice_view(text: str, lang: str) -> dict[str, Any]:
    return _modal(
        msg("app_name", lang), [_section(escape(text))], callback_id="eb.notice", lang=lang
    )


def record_blocks(rec: DecisionRecord, lang: str, note: str = "") -> list[dict[str, Any]]:
    """The decision record as message blocks (DM) — at most 50 blocks."""
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=_clip(f"{msg('record_title', lang)}: {rec.title}", 150))
        ),
        ContextBlock(elements=[_md(f"{escape(rec.tree_id)} v{rec.tree_version}")]),
    ]
    if note:
        blocks.append(ContextBlock(elements=[_md(note)]))
    for i, step in enumerate(rec.steps[:3], start=1):
        lines = [f"*{i}. {escape(step.title)}*"]
        lines += [f"• {escape(e.question)}\n   → {escape(e.answer)}" for e in step.entries]
        lines += [f"   _{escape(n)}_: {escape(t)}" for n, t in step.weighing]
        blocks.append(_section("\n".join(lines)))
    blocks.append(_section(f"*4. {escape(rec.steps[3].title)}*"))
    blocks.extend(outcome_blocks(rec.outcome, lang))
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def record_fallback(rec: DecisionRecord, lang: str) -> str:
    return f"{msg('record_title', lang)}: {rec.title} — {rec.outcome.headline}"


def record_view(rec: DecisionRecord, lang: str) -> dict[str, Any]:
    view = View(
        type="modal",
        title=PlainTextObject(text=_clip(msg("record_title", lang), 24)),
        close=PlainTextObject(text="关闭" if lang == "zh" else "Close"),
        blocks=record_blocks(rec, lang),
    )
    return view.to_dict()


# -- App Home ---------------------------------------------------------------------------------


def home_view(
    lang: str,
    unfinished: Sequence[SessionInfo],
    recent: Sequence[SessionInfo],
    extra: Sequence[Block] = (),
    contact: str = "",
) -> dict[str, Any]:
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=msg("app_name", lang))),
        _section(msg("about", lang)),
        *(
            [ContextBlock(elements=[_md(msg("contact", lang, contact=escape(contact)))])]
            if contact
            else []
        ),
        ActionsBlock(elements=[_button(msg("start", lang), A.HOME_START, "start", "primary")]),
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text=msg("unfinished", lang))),
    ]
    if not unfinished:
        blocks.append(ContextBlock(elements=[_md(msg("none_yet", lang))]))
    for i, s in enumerate(unfinished[:10]):
        when = slack_date(s.updated_at, with_time=True)
        blocks.append(
            _section(
                f"*{escape(s.title)}* · {s.step}/4 · {when}",
                _button(msg("resume", lang), f"{A.RESUME}:{i}", s.id),
            )
        )
    blocks += [DividerBlock(), HeaderBlock(text=PlainTextObject(text=msg("recent", lang)))]
    if not recent:
        blocks.append(ContextBlock(elements=[_md(msg("none_yet", lang))]))
    for i, s in enumerate(recent[:10]):
        when = slack_date(s.updated_at)
        blocks.append(
            _section(
                f"*{escape(s.title)}*\n{escape(s.headline)} · {when}",
                _button(msg("view", lang), f"{A.VIEW_RECORD}:{i}", s.id),
            )
        )
    blocks.extend(extra)
    view = View(type="home", blocks=_dicts(blocks, MAX_VIEW_BLOCKS))
    return view.to_dict()
