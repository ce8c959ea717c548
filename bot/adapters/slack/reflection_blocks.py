"""Pure Block Kit builders for the reflection follow-up: the DM, its modal, the thank-you.

"Worse" offers escalation with the buttons the rest of the app already uses: the outcome's
own "Report to compliance" (A.REPORT, value = session id) when that outcome offered one,
else "Talk to compliance" (a report without the consultation).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
)

from bot.adapters.slack import actions as A
from bot.adapters.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    TALK_COMPLIANCE,
    _button,
    _dicts,
    _modal,
    _section,
    escape,
)
from bot.adapters.slack.text import msg
from bot.reflection.service import LEARNED_MAX, TURNED_OUT, Answered, AskView

OPEN = "eb.reflect_open"  # DM button: value = session id
STOP = "eb.reflect_stop"  # DM or App Home button: opt out for good
VIEW = "eb.reflect"  # the modal's callback id, private_metadata = session id
TURNED_OUT_BLOCK = "turned_out"
SAME_BLOCK = "same_again"
LEARNED_BLOCK = "learned"


def ask_fallback(ask: AskView) -> str:
    return msg("reflect_title", ask.lang)


def ask_blocks(ask: AskView) -> list[dict[str, Any]]:
    lang = ask.lang
    text = msg(
        "reflect_ask",
        lang,
        days=str(ask.days),
        title=escape(ask.title),
        headline=escape(ask.headline),
    )
    blocks: list[Block] = [
        _section(text),
        ActionsBlock(
            elements=[
                _button(msg("reflect_answer", lang), OPEN, ask.session_id, "primary"),
                _button(msg("reflect_stop", lang), STOP, "dm"),
            ]
        ),
    ]
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def _radio(block_id: str, label: str, options: list[tuple[str, str]]) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=RadioButtonsElement(
            action_id="value",
            options=[Option(value=v, text=PlainTextObject(text=t)) for v, t in options],
        ),
    )


def answer_view(session_id: str, lang: str) -> dict[str, Any]:
    blocks: list[Block] = [
        _radio(
            TURNED_OUT_BLOCK,
            msg("reflect_turned_out", lang),
            [(k, msg(f"reflect_{k}", lang)) for k in TURNED_OUT],
        ),
        _radio(
            SAME_BLOCK,
            msg("reflect_same", lang),
            [("yes", msg("reflect_yes", lang)), ("no", msg("reflect_no", lang))],
        ),
        InputBlock(
            block_id=LEARNED_BLOCK,
            optional=True,
            label=PlainTextObject(text=msg("reflect_learned", lang)),
            hint=PlainTextObject(text=msg("reflect_learned_hint", lang)),
            element=PlainTextInputElement(action_id="value", max_length=LEARNED_MAX),
        ),
    ]
    return _modal(
        msg("reflect_title", lang),
        blocks,
        callback_id=VIEW,
        lang=lang,
        metadata=session_id,
        submit=msg("submit", lang),
    )


def thanks_view(answered: Answered, lang: str) -> dict[str, Any]:
    blocks: list[Block] = [_section(msg("reflect_thanks", lang))]
    if answered.escalate is not None:
        if answered.escalate == "session":
            button = _button(msg("reflect_report", lang), A.REPORT, answered.session_id, "danger")
        else:
            button = _button(msg("talk_compliance", lang), TALK_COMPLIANCE, "reflection")
        blocks += [
            DividerBlock(),
            _section(msg("reflect_worse_offer", lang)),
            ActionsBlock(elements=[button]),
        ]
    return _modal(msg("reflect_title", lang), blocks, callback_id="eb.notice", lang=lang)


def home_blocks() -> list[Block]:
    """Bilingual: App Home sections added by other parts know only the Slack user id."""
    text = f"{msg('reflect_home', 'zh')}\n{msg('reflect_home', 'en')}"
    label = f"{msg('reflect_stop', 'zh')} · {msg('reflect_stop', 'en')}"
    return [DividerBlock(), _section(text, _button(label, STOP, "home"))]
