"""Teams through the real server: activities posted to /api/messages, a fake Bot Connector
capturing what the bot sends, Action.Execute clicks answered with the refreshed card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.storage.tables import SeenEventRow, SessionRow, TeamsConversationRow
from tests.conftest import ROOT
from tests.fakes.teams_connector import (
    FakeConnector,
    Fault,
    TeamsBot,
    by_verb,
    click,
    installed,
    message,
    teams_env,
    texts,
)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


async def start(db_url: str, fake: FakeConnector, content: Path = ROOT, **kw: str) -> TeamsBot:
    settings = Settings.from_env(teams_env(db_url, content, **kw))
    return await TeamsBot(bootstrap(settings), fake).start()


@pytest.fixture
async def bot(sqlite_url: str, connector: FakeConnector) -> AsyncIterator[TeamsBot]:
    b = await start(sqlite_url, connector)
    yield b
    await b.stop()


async def test_install_greets_with_what_it_is_and_the_topics(bot: TeamsBot) -> None:
    answer = await bot.post(installed(bot.fake.service_url))
    assert answer.status in (200, 202)
    posted = await bot.fake.wait_for(1)
    card = posted[0].card
    assert posted[0].conversation == "a:personal-aad-user-1"
    shown = texts(card)
    assert "not** a hotline" in shown
    assert "Microsoft 365 keeps its own record" in shown
    starts = {a["data"]["t"] for a in by_verb(card, "start")}
    assert "confidentiality-caller-enquiry" in starts and "triage" in starts
    with bot.services.db.read() as s:
        ref = s.get(TeamsConversationRow, "a:personal-aad-user-1")
        assert ref is not None and ref.service_url == bot.fake.service_url
        assert ref.kind == "personal" and ref.tenant_id


async def test_a_topic_word_starts_a_walk_and_clicks_update_the_card_in_place(
    bot: TeamsBot,
) -> None:
    card = await bot.say("confidentiality")
    assert "Step 1 of 4" in texts(card)
    choose = by_verb(card, "choose")
    assert choose, texts(card)
    answer = await bot.press(choose[0])
    step = answer.card
    # the click answered with the next card (updated in place), nothing new was posted
    assert len(bot.fake.posted) == 1
    assert texts(step) != texts(card) and "Step " in texts(step)
    back = by_verb(step, "back")
    assert back
    again = (await bot.press(back[0])).card
    assert texts(again).split("\n")[0] == texts(card).split("\n")[0]


async def test_an_old_card_clicked_again_applies_once_and_says_so(bot: TeamsBot) -> None:
    card = await bot.say("confidentiality")
    first = by_verb(card, "choose")[0]
    await bot.press(first)
    with bot.services.db.read() as s:
        version = s.scalars(select(SessionRow.state_version)).one()
    again = await bot.press(first)  # a new invoke (new activity id) from the old card
    assert "already answered" in texts(again.card)
    with bot.services.db.read() as s:
        assert s.scalars(select(SessionRow.state_version)).one() == version


async def test_a_redelivered_activity_applies_once(bot: TeamsBot) -> None:
    card = await bot.say("confidentiality")
    with bot.services.db.read() as s:
        started = s.scalars(select(SessionRow.state_version)).one()
    act = click(bot.fake.service_url, by_verb(card, "choose")[0], id="same-activity")
    one = await bot.post(act)
    two = await bot.post(act)
    assert one.status == two.status == 200
    with bot.services.db.read() as s:
        assert s.scalars(select(SessionRow.state_version)).one() == started + 1
    # the redelivery shows where the walk is now, with no "already answered" notice
    assert texts(two.card) == texts(one.card)
    typed = message(bot.fake.service_url, "ethics", id="same-message")
    await bot.post(typed)
    await bot.post(typed)
    await bot.fake.wait_for(2)
    assert len(bot.fake.posted) == 2  # one card for the first 'confidentiality', one 'ethics'


async def test_chinese_locale_gets_chinese_cards_unless_chosen(bot: TeamsBot) -> None:
    card = await bot.say("公平", aad="aad-zh", locale="zh-CN")
    assert "第 1 步" in texts(card) and "Step 1 of 4" not in texts(card)
    note = await bot.say("lang en", aad="aad-zh", locale="zh-CN")
    assert "English" in texts(note)
    card = await bot.say("fair", aad="aad-zh", locale="zh-CN")
    assert "Step 1 of 4" in texts(card)


async def test_free_text_is_searched_and_never_stored(bot: TeamsBot) -> None:
    secret = "my manager asked me to tell a caller the balance of her husband's account"
    card = await bot.say(secret)
    starts = by_verb(card, "start")
    assert starts and any("confidentiality" in a["data"]["t"] for a in starts)
    with bot.services.db.read() as s:
        assert s.scalars(select(SessionRow)).first() is None
        assert all("husband" not in k for k in s.scalars(select(SeenEventRow.key)))


async def test_typed_markup_is_shown_as_typed_not_rendered(bot: TeamsBot) -> None:
    card = await bot.say("[click me](https://evil.example) **loud** balance")
    runs = [
        r
        for b in card["body"]
        for col in b.get("columns", [])
        for item in col["items"]
        if item["type"] == "RichTextBlock"
        for r in item["inlines"]
    ]
    assert runs, "the why-words come back as TextRuns"
    blocks = [b for b in card["body"] if b["type"] == "TextBlock"]
    assert all("evil.example" not in b["text"] for b in blocks)


async def test_a_failing_turn_shows_no_exception_text(
    sqlite_url: str, connector: FakeConnector
) -> None:
    b = await start(sqlite_url, connector)
    try:
        b.services.consult.start = _boom  # type: ignore[method-assign]
        await b.say("confidentiality")
        shown = texts(connector.posted[-1].card)
        assert "went wrong on our side" in shown and "secret-internal" not in shown
        card = (await b.press({"verb": "start", "data": {"verb": "start", "t": "triage"}})).card
        assert "went wrong on our side" in texts(card)
    finally:
        await b.stop()


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("secret-internal detail")


async def test_connector_429_is_retried_after_retry_after(bot: TeamsBot) -> None:
    bot.fake.fault(Fault(status=429, retry_after="0"), Fault(status=503))
    card = await bot.say("help")
    assert "lang zh" in texts(card)
    assert bot.fake.attempts == 3


async def test_a_body_that_is_not_an_activity_gets_400(bot: TeamsBot) -> None:
    assert (await bot.post(None, raw=b"{not json")).status == 400
    assert (await bot.post(None, raw=b"[1, 2]")).status == 400
    assert (await bot.post({"type": 5, "conversation": "x"})).status == 400


async def test_a_channel_install_is_remembered_and_channels_get_no_consultation(
    bot: TeamsBot,
) -> None:
    channel = "19:desk@thread.tacv2"
    team = {"team": {"id": "19:team@thread.tacv2"}, "tenant": {"id": "t-1"}}
    await bot.post(
        installed(
            bot.fake.service_url,
            conversation=channel,
            conversation_type="channel",
            channelData=team,
        )
    )
    with bot.services.db.read() as s:
        ref = s.get(TeamsConversationRow, channel)
        assert ref is not None and ref.kind == "channel" and ref.team_id == "19:team@thread.tacv2"
    assert bot.fake.posted == []  # no welcome card into a channel
    card = await bot.say(
        "<at>EthicsBot</at> confidentiality",
        conversation=channel,
        conversation_type="channel",
        channelData=team,
        entities=[{"type": "mention", "text": "<at>EthicsBot</at>"}],
    )
    assert "personal chat" in texts(card)
    with bot.services.db.read() as s:
        assert s.scalars(select(SessionRow)).first() is None


async def test_a_walk_continues_after_a_restart(sqlite_url: str, connector: FakeConnector) -> None:
    first = await start(sqlite_url, connector)
    card = await first.say("confidentiality")
    await first.stop()
    second = await start(sqlite_url, connector)  # a new process on the same database
    try:
        step = (await second.press(by_verb(card, "choose")[0])).card
        assert "Step 2 of 4" in texts(step) and "already answered" not in texts(step)
        welcome = await second.say("ethics")
        assert by_verb(welcome, "resume")  # the unfinished walk is offered
    finally:
        await second.stop()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("escalation", ["required", "offered", "none"])
def test_the_outcome_card_itself_carries_the_report_button_when_a_report_is_due(
    lang: str, escalation: str
) -> None:
    """Built with the outcome (not patched on afterwards by the desk): the button carries the
    consultation's session, so the report is filed from it; no button where none is due."""
    from bot.adapters.teams import cards as C
    from bot.core.replies import OutcomeReply
    from tests.test_teams_golden import check_card

    session = "0b6c3f1e-8a1d-4c47-9b0e-4f4c1d2e3a4b"
    outcome = OutcomeReply(
        severity="high",
        escalation=escalation,
        headline="Tell compliance",
        advice="Do not share the balance.",
        cites=(),
        reflect=(),
        handoff="triage",
    )
    card = C.walk_card([outcome], session, lang, handoff_title="Not sure")
    check_card(card, f"outcome {escalation} {lang}")
    report = by_verb(card, "case.report")
    if escalation == "none":
        assert report == []
        return
    assert [a["data"] for a in report] == [{"verb": "case.report", "s": session}]
    assert report[0]["title"] == C.msg("report_button", lang)
    assert card["actions"][-1] is report[0]  # after the hand-off, as the desk placed it
