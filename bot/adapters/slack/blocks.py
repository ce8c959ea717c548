"""Pure Block Kit builders: engine replies and service summaries -> Slack view/message dicts.

Built with slack_sdk's Block Kit models, whose `to_dict()` enforces the per-field limits;
what they do not count (blocks per view or message) is checked here. The walk modal, built
on every click and command, is written once over a small "kit" of block makers with two
implementations: `MODELS` (slack_sdk's models, the reference) and `DICTS` (plain dicts that
clip to the same limits, used on the hot path, because the models' reflective validation was
the largest share of our own CPU per step in the bench profile). tests/test_blocks_dicts.py
requires both kits to give the identical view for every node kind, in en and zh. Every
string that did not come from our own code is escaped for mrkdwn or placed in plain_text,
so a `<!channel>` typed by a user can never ping anyone.
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


def _dicts(blocks: Iterable[Block | dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    out = [b if isinstance(b, dict) else b.to_dict() for b in blocks]
    if len(out) > limit:
        raise ValueError(f"{len(out)} blocks, more than Slack's {limit}")
    return out


def _modal(
    title: str,
    blocks: Sequence[Block | dict[str, Any]],
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
        "title": _plain(title, 24),
        "close": _plain("关闭" if lang == "zh" else "Close", 75),
        "blocks": _dicts(blocks, MAX_VIEW_BLOCKS),
    }
    if submit:
        view["submit"] = _plain(submit, 24)
    if metadata:
        view["private_metadata"] = metadata
    return view


# -- the two kits: slack_sdk models (reference) and plain dicts (hot path) ------------------

Kit = dict[str, Any]


def _plain(text: str, limit: int) -> Kit:
    """A plain_text object as PlainTextObject(text=...).to_dict() gives it, clipped; the
    models refuse empty text, so this does too (a tree's text is never empty)."""
    if not text:
        raise ValueError("empty plain_text")
    return {"text": _clip(text, limit), "type": "plain_text"}


class ModelKit:
    """slack_sdk's Block Kit models: the reference the dict kit is checked against."""

    def md(self, text: str) -> Any:
        return _md(text)

    def section(self, text: str, accessory: Any = None) -> Any:
        return _section(text, accessory)

    def button(self, text: str, action_id: str, value: str = "", style: str | None = None) -> Any:
        return _button(text, action_id, value, style)

    def header(self, text: str) -> Any:
        return HeaderBlock(text=PlainTextObject(text=_clip(text, 150)))

    def context(self, text: str) -> Any:
        return ContextBlock(elements=[_md(text)])

    def divider(self) -> Any:
        return DividerBlock()

    def actions(self, elements: list[Any]) -> Any:
        return ActionsBlock(elements=elements)

    def text_input(self, prompt: str, optional: bool, max_length: int | None) -> Any:
        return InputBlock(
            block_id=A.ANSWER_BLOCK,
            label=PlainTextObject(text=_clip(prompt, 2000)),
            optional=optional,
            element=PlainTextInputElement(
                action_id=A.ANSWER_INPUT, multiline=True, max_length=max_length
            ),
        )


class DictKit(ModelKit):
    """The same blocks as plain dicts, with the limits the models enforce applied here:
    text clipped like `_clip` does for the models; ids and values are ours by construction
    (fixed action ids, a button value under 120 characters), so they are checked, not
    clipped."""

    def md(self, text: str) -> Kit:
        if not text:
            raise ValueError("empty mrkdwn")
        return {"text": _clip(text, SECTION_LIMIT), "type": "mrkdwn"}

    def section(self, text: str, accessory: Any = None) -> Kit:
        out: Kit = {"text": self.md(text), "type": "section"}
        if accessory is not None:
            out["accessory"] = accessory
        return out

    def button(self, text: str, action_id: str, value: str = "", style: str | None = None) -> Kit:
        if not action_id or len(action_id) > 255 or len(value) > 2000:
            raise ValueError("button action_id or value over Slack's limit")
        if style not in (None, "primary", "danger"):
            raise ValueError(f"button style {style!r}")
        out: Kit = {"action_id": action_id, "text": _plain(text, 75), "type": "button"}
        if style:
            out["style"] = style
        if value:
            out["value"] = value
        return out

    def header(self, text: str) -> Kit:
        return {"text": _plain(text, 150), "type": "header"}

    def context(self, text: str) -> Kit:
        return {"elements": [self.md(text)], "type": "context"}

    def divider(self) -> Kit:
        return {"type": "divider"}

    def actions(self, elements: list[Any]) -> Kit:
        if not 0 < len(elements) <= 25:
            raise ValueError(f"{len(elements)} elements in an actions block")
        return {"elements": elements, "type": "actions"}

    def text_input(self, prompt: str, optional: bool, max_length: int | None) -> Kit:
        element: Kit = {"action_id": A.ANSWER_INPUT, "multiline": True}
        if max_length is not None:
            if not 0 < max_length <= 3000:
                raise ValueError(f"max_length {max_length}")
            element["max_length"] = max_length
        element["type"] = "plain_text_input"
        return {
            "block_id": A.ANSWER_BLOCK,
            "element": element,
            "label": _plain(prompt, 2000),
            "optional": optional,
            "type": "input",
        }


MODELS = ModelKit()
DICTS = DictKit()


# -- consultation ----------------------------------------------------------------------------


def outcome_blocks(o: OutcomeReply, lang: str, kit: ModelKit = MODELS) -> list[Any]:
    icon = SEVERITY_ICON.get(o.severity, "")
    blocks: list[Any] = [
        kit.header(o.headline),
        kit.context(f"{icon} {msg('severity', lang)}: *{msg('sev_' + o.severity, lang)}*"),
        kit.section(f"*{msg('advice', lang)}*\n{escape(o.advice)}"),
    ]
    if o.cites:
        lines = "\n".join(f"• *{c.id}* {escape(c.title)} — _{escape(c.source)}_" for c in o.cites)
        blocks.append(kit.section(f"*{msg('cites', lang)}*\n{lines}"))
    if o.reflect:
        lines = "\n".join(f"• {escape(r)}" for r in o.reflect)
        blocks.append(kit.section(f"*{msg('reflect', lang)}*\n{lines}"))
    if o.escalation == "required":
        blocks.append(kit.section(f":rotating_light: *{msg('escalation_required', lang)}*"))
    elif o.escalation == "offered":
        blocks.append(kit.section(f":information_source: {msg('escalation_offered', lang)}"))
    return blocks


def walk_view(
    replies: Sequence[Reply],
    session_id: str,
    lang: str,
    *,
    handoff_title: str | None = None,
    notice: str = "",
    kit: ModelKit = DICTS,
) -> dict[str, Any]:
    """The modal for the current node of a consultation (one node per view); `kit=MODELS`
    builds the same view through slack_sdk's models (the reference the tests compare)."""
    blocks: list[Any] = []
    if notice:
        blocks.append(kit.context(f":warning: {escape(notice)}"))
    submit: str | None = None
    metadata = ""
    controls: list[Any] = []
    for r in replies:
        if isinstance(r, StepHeader):
            blocks.append(kit.header(r.title))
            blocks.append(kit.context(f"_{escape(r.guidance)}_"))
        elif isinstance(r, Say):
            blocks.append(kit.section(escape(r.text)))
        elif isinstance(r, Weigh):
            blocks.append(kit.divider())
            lenses = "\n".join(f"• *{escape(n)}*: {escape(t)}" for n, t in r.lenses)
            blocks.append(kit.section(f"*{msg('weigh', lang)}*\n{lenses}"))
            blocks.append(kit.divider())
        elif isinstance(r, Ask):
            choose = "选择" if lang == "zh" else "Choose"
            for i, label in r.options:
                value = A.click_value(session_id, r.node, r.version, i)
                blocks.append(
                    kit.section(
                        f"{i + 1}. {escape(label)}", kit.button(choose, f"{A.CHOOSE}:{i}", value)
                    )
                )
            controls = _controls(session_id, r.node, r.version, r.can_back, lang, kit)
        elif isinstance(r, AskText):
            blocks.append(kit.text_input(r.prompt, r.optional, r.max_length))
            submit = msg("submit", lang)
            metadata = A.click_value(session_id, r.node, r.version)
            controls = _controls(session_id, r.node, r.version, r.can_back, lang, kit)
        elif isinstance(r, Continue):
            value = A.click_value(session_id, r.node, r.version)
            controls = [
                kit.button(msg("continue", lang), A.CONTINUE, value, "primary"),
                *_controls(session_id, r.node, r.version, r.can_back, lang, kit),
            ]
        elif isinstance(r, OutcomeReply):
            blocks.extend(outcome_blocks(r, lang, kit))
            controls = [kit.button(msg("send_record", lang), A.RECORD_DM, session_id, "primary")]
            if r.escalation in ("offered", "required"):
                controls.insert(
                    0,
                    kit.button(
                        msg("report_button", lang),
                        A.REPORT,
                        session_id,
                        "danger" if r.escalation == "required" else None,
                    ),
                )
            if r.handoff and handoff_title:
                controls.append(
                    kit.button(msg("handoff", lang, title=handoff_title), A.START, r.handoff)
                )
    if controls:
        blocks.append(kit.actions(controls))
    return _modal(
        msg("app_name", lang),
        blocks,
        callback_id=A.WALK_VIEW,
        lang=lang,
        metadata=metadata or session_id,
        submit=submit,
    )


def _controls(
    session_id: str, node: str, version: int, can_back: bool, lang: str, kit: ModelKit
) -> list[Any]:
    value = A.click_value(session_id, node, version)
    out = [kit.button(msg("back", lang), A.BACK, value)] if can_back else []
    out.append(kit.button(msg("save_exit", lang), A.SAVE, value))
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
    blocks: list[Any] = [
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
