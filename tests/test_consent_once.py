"""A confidential reporter who clicks "I consent to share my identity" more than once (a double
click, the button pressed again days later, two instances each taking one click) is thanked
every time, but the case's timeline says "consent" once: the case team reads it as an event,
and a second one would claim something happened that did not. Slack and Teams alike, through
the real servers and the fakes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import text

from bot.adapters.slack import case_blocks as CB
from bot.adapters.teams import case_cards as CC
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.fakes.teams_connector import FakeConnector, TeamsBot, by_verb, teams_env, texts
from tests.harness import buttons, eventually, start_bot
from tests.test_cases import (
    FAST,
    card_action,
    card_posts,
    modal_submit,
    report_submission,
    walk_to_required,
)
from tests.test_teams_cases import (
    COMPLY,
    DESK,
    OFFICER2,
    add_to_compliance_channel,
    desk_cards,
    officer_asks,
    relayed_to,
    report,
)


def consent_click(case_id: str, user: str) -> str:
    """The reporter's click on the consent button in the bot's DM, as Slack sends it."""
    return interactive_body(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T1"},
            "team": {"id": "T1"},
            "trigger_id": f"trig-{user}",
            "channel": {"id": f"D{user}"},
            "container": {"type": "message", "channel_id": f"D{user}"},
            "message": {"ts": "1"},
            "actions": [
                {
                    "type": "button",
                    "action_id": CB.REPORTER_CONSENT,
                    "value": case_id,
                    "block_id": "b",
                }
            ],
        }
    )


async def test_slack_a_second_consent_click_thanks_again_and_adds_nothing_to_the_timeline(
    fake: FakeSlack, db_url: str
) -> None:
    a = await start_bot(db_url, fake, **FAST)
    b = await start_bot(db_url, fake, **FAST)  # a second instance on the same database
    try:
        view = await walk_to_required(a, fake, "U1")
        r = await a.post(interactive_body(report_submission(view, "confidential", user="U1")))
        assert "is recorded" in str(r.json())
        await eventually(lambda: len(card_posts(fake)) == 1)
        case_id = buttons(card_posts(fake)[0].args)[CB.CASE_ACK]
        await a.post(card_action(CB.CASE_ASK, case_id, "UOFFICER1"))
        ask = (await fake.wait_for("views.open", 2))[-1].args["view"]
        question = {"text": {"value": {"value": "Who else was there?"}}}
        await a.post(
            modal_submit(CB.CASE_TEXT_VIEW, ask["private_metadata"], "UOFFICER1", question)
        )

        def dms() -> list[Any]:
            return [c for c in fake.of("chat.postMessage") if c.args.get("channel") == "U1"]

        await eventually(lambda: any("Who else" in json.dumps(c.args) for c in dms()))
        offer = next(c for c in dms() if "Who else" in json.dumps(c.args))
        assert buttons(offer.args)[CB.REPORTER_CONSENT] == case_id

        def thanked() -> int:
            return sum("case team may now see your identity" in str(c.args) for c in dms())

        await a.post(consent_click(case_id, "U1"))
        await eventually(lambda: thanked() == 1)
        await b.post(consent_click(case_id, "U1"))  # again, on the other instance
        await a.post(consent_click(case_id, "U1"))  # and again
        await eventually(lambda: thanked() == 3)  # thanked every time

        n = len(fake.of("views.open"))
        await a.post(card_action(CB.CASE_VIEW, case_id, "UOFFICER2"))
        details = (await fake.wait_for("views.open", n + 1))[-1].args["view"]
        timeline = [json.dumps(blk) for blk in details["blocks"] if blk["type"] == "context"]
        with a.services.db.read() as s:
            audited = s.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'case.consent'")
            ).scalar()
    finally:
        await a.stop()
        await b.stop()
    assert sum("*consent*" in line for line in timeline) == 1
    assert "<@U1>" in json.dumps(details)  # the consent itself did take effect
    assert audited == 1


async def test_teams_a_second_consent_click_thanks_again_and_adds_nothing_to_the_timeline(
    db_url: str,
) -> None:
    fake = await FakeConnector().start()
    env = teams_env(db_url, FIXTURE_CONTENT, **DESK)
    a = await TeamsBot(bootstrap(Settings.from_env(env)), fake).start()
    b = await TeamsBot(bootstrap(Settings.from_env(env)), fake).start()
    try:
        await add_to_compliance_channel(a)
        reporter, chat = "aad-reporter-8", "a:personal-aad-reporter-8"
        await report(a, reporter, mode="confidential", narrative="the desk shared a balance")
        await eventually(lambda: len(desk_cards(fake)) == 1)
        desk = desk_cards(fake)[0].card
        await officer_asks(a, desk, "Who else was there?")
        await eventually(lambda: bool(relayed_to(fake, chat, "Who else")))
        (consent,) = by_verb(relayed_to(fake, chat, "Who else")[0].card, CC.V_CONSENT)

        # a double click reaching both instances at once, then once more
        both = await asyncio.gather(a.press(consent, aad=reporter), b.press(consent, aad=reporter))
        again = await a.press(consent, aad=reporter)
        for answer in [*both, again]:
            assert "the case team may now see your identity" in texts(answer.card)

        view = by_verb(desk, CC.V_VIEW)[0]
        shown = (await a.press(view, aad=OFFICER2, conversation=COMPLY)).card
    finally:
        await a.stop()
        await b.stop()
        await fake.stop()
    lines = [blk.get("text", "") for blk in shown["body"] if isinstance(blk, dict)]
    assert sum(line.endswith(" consent") for line in lines) == 1, lines
    assert "Teams user aad-repo" in texts(shown)  # the consent itself did take effect
