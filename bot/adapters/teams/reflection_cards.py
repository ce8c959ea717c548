"""Pure Adaptive Card 1.5 builders for the reflection follow-up in the Teams personal chat.

Slack asks in a modal; a Teams card holds its own inputs, so the question, the three
answers and the optional line are one card, answered in place (the invoke's answer replaces
the card for the person, who is the only one in that chat). "Worse" offers the way to
compliance with the buttons the Teams speak-up flow already answers to (case_cards'
`speak_up_action` for the consultation's own report, the plain report form otherwise).
"""

from __future__ import annotations

from typing import Any

from bot.adapters.teams import case_cards as CC
from bot.adapters.teams.cards import Card, execute, finish, notice_block, text
from bot.adapters.teams.text import msg
from bot.reflection.service import LEARNED_MAX, TURNED_OUT, Answered, AskView

V_ANSWER = "reflect.answer"  # data: s = session id; inputs TURNED_OUT_ID, SAME_ID, LEARNED_ID
V_STOP = "reflect.stop"  # opt out for good (from the ask or the welcome card)
TURNED_OUT_ID = "turned_out"
SAME_ID = "same_again"
LEARNED_ID = "learned"


def _choices(input_id: str, label: str, options: list[tuple[str, str]], lang: str) -> Card:
    return {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "expanded",
        "isRequired": True,
        "errorMessage": msg("reflect_pick", lang),
        "choices": [{"title": t, "value": v} for v, t in options],
    }


def stop_action(lang: str) -> dict[str, Any]:
    return execute(msg("reflect_stop", lang), V_STOP, {})


def ask_card(ask: AskView) -> Card:
    """The follow-up: how it turned out, the same again, one line learned, stop asking."""
    # title and headline are ours (the tree's), not typed by anyone
    intro = msg("reflect_ask", ask.lang, days=str(ask.days), title=ask.title, headline=ask.headline)
    return questions_card(ask.session_id, ask.lang, intro=intro)


def questions_card(session_id: str, lang: str, *, intro: str = "", notice: str = "") -> Card:
    """The questions (again, with `notice`, when an answer came back incomplete)."""
    body: list[dict[str, Any]] = []
    if notice:
        body.append(notice_block(notice))
    body.append(text(msg("reflect_title", lang), size="Large", weight="Bolder"))
    if intro:
        body.append(text(intro))
    body += [
        _choices(
            TURNED_OUT_ID,
            msg("reflect_turned_out", lang),
            [(k, msg(f"reflect_{k}", lang)) for k in TURNED_OUT],
            lang,
        ),
        _choices(
            SAME_ID,
            msg("reflect_same", lang),
            [("yes", msg("reflect_yes", lang)), ("no", msg("reflect_no", lang))],
            lang,
        ),
        {
            "type": "Input.Text",
            "id": LEARNED_ID,
            "label": msg("reflect_learned", lang),
            "placeholder": msg("reflect_learned_hint", lang),
            "maxLength": LEARNED_MAX,
            "isRequired": False,
        },
    ]
    actions = [
        execute(msg("submit", lang), V_ANSWER, {"s": session_id}, style="positive"),
        stop_action(lang),
    ]
    return finish(body, actions)


def thanks_card(answered: Answered, lang: str) -> Card:
    """Thanks; and when it turned out worse, the way to compliance at once."""
    body: list[dict[str, Any]] = [
        text(msg("reflect_title", lang), size="Large", weight="Bolder"),
        text(msg("reflect_thanks", lang)),
    ]
    actions: list[dict[str, Any]] = []
    if answered.escalate is not None:
        body.append(text(msg("reflect_worse_offer", lang), separator=True, spacing="Medium"))
        if answered.escalate == "session":
            actions.append(CC.speak_up_action(answered.session_id, lang))
        else:  # the outcome offered no report: a report of its own, without the consultation
            actions.append(execute(msg("talk_compliance", lang), CC.V_REPORT, {}))
    return finish(body, actions)


def note(key: str, lang: str) -> Card:
    return finish([text(msg("reflect_title", lang), weight="Bolder"), text(msg(key, lang))])


def welcome_block(lang: str) -> list[dict[str, Any]]:
    """The opt-out on the welcome card: what follow-ups are, and the one click to stop."""
    return [
        {
            "type": "ColumnSet",
            "separator": True,
            "columns": [
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [text(msg("reflect_stop_welcome", lang), isSubtle=True)],
                },
                {
                    "type": "Column",
                    "width": "auto",
                    "verticalContentAlignment": "Center",
                    "items": [{"type": "ActionSet", "actions": [stop_action(lang)]}],
                },
            ],
        }
    ]
