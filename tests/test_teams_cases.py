"""Speaking up and the compliance desk in Teams, through the real server (`/api/messages`,
anonymous mode) and the fake Bot Connector: one card per case in the compliance channel even
through connector faults, officers' clicks checked on the server and audited, the channel
message updated for everyone, anonymity kept, and a Slack case worked from the Teams desk."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.adapters.teams import case_cards as CC
from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.ops.readiness import schema_head
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.fakes.teams_connector import (
    FakeConnector,
    Fault,
    Posted,
    TeamsBot,
    by_verb,
    installed,
    message,
    teams_env,
    texts,
)
from tests.harness import SlackBot, eventually, slack_env
from tests.test_cases import FAST, FakeClock, card_posts, report_submission, walk_to_required
from tests.test_teams_golden import check_card

COMPLY = "19:compliance-desk@thread.tacv2"
OFFICER, OFFICER2, LEAD, STAFF = "aad-officer-1", "aad-officer-2", "aad-lead-1", "aad-staff-9"
DESK = {
    "COMPLIANCE_TEAMS_CONVERSATION": COMPLY,
    "COMPLIANCE_TEAMS_USERS": f"{OFFICER},{OFFICER2},{LEAD}",
    "COMPLIANCE_LEAD_TEAMS_USERS": LEAD,
    "ETHICSBOT_OUTBOX_LEASE": "1",
}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


async def start(db_url: str, fake: FakeConnector, **extra: str) -> TeamsBot:
    env = teams_env(db_url, FIXTURE_CONTENT, **{**DESK, **extra})
    return await TeamsBot(bootstrap(Settings.from_env(env)), fake).start()


@pytest.fixture
async def bot(db_url: str, connector: FakeConnector) -> AsyncIterator[TeamsBot]:
    b = await start(db_url, connector)
    await add_to_compliance_channel(b)
    yield b
    await b.stop()


async def add_to_compliance_channel(bot: TeamsBot) -> None:
    """The app is added to the compliance team: Teams sends a conversationUpdate there."""
    answer = await bot.post(
        installed(
            bot.fake.service_url,
            aad=OFFICER,
            conversation=COMPLY,
            conversation_type="channel",
            channelData={
                "tenant": {"id": "t"},
                "team": {"id": "19:team"},
                "channel": {"id": COMPLY},
            },
        )
    )
    assert answer.status in (200, 202)


def desk_cards(fake: FakeConnector) -> list[Posted]:
    """New top-level posts in the compliance channel (not thread replies, not updates)."""
    return [
        p
        for p in fake.posted
        if p.conversation == COMPLY and p.method == "POST" and not p.activity_id
    ]


def updates(fake: FakeConnector, activity_id: str) -> list[Posted]:
    return [p for p in fake.posted if p.method == "PUT" and p.activity_id == activity_id]


def show_card_action(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The Action.Execute inside an Action.ShowCard (the in-place form) titled `title`."""
    for a in card.get("actions", []):
        if a["type"] == "Action.ShowCard" and a["title"] == title:
            check_card({**a["card"], "version": "1.5"}, title)
            return a["card"]["actions"][0]
    raise AssertionError(f"no {title!r} form on the card")


async def walk_to_outcome(
    bot: TeamsBot, aad: str, conversation: str | None = None
) -> dict[str, Any]:
    """mini: someone else asks -> typed facts -> continue -> tell them: a required report."""
    kw: dict[str, Any] = {"aad": aad}
    if conversation:
        kw["conversation"] = conversation
    card = await say(bot, "mini", aad, conversation)
    card = (await bot.press(_option(card, 1), **kw)).card
    card = (
        await bot.press(
            by_verb(card, "answer")[0], {"answer": "the caller asked for the balance"}, **kw
        )
    ).card
    card = (await bot.press(by_verb(card, "proceed")[0], **kw)).card
    card = (await bot.press(_option(card, 1), **kw)).card
    check_card(card, "outcome")
    return card


def _option(card: dict[str, Any], index: int) -> dict[str, Any]:
    choices = by_verb(card, "choose")
    return (
        next(a for a in choices if a["data"].get("o") == index)
        if any(a["data"].get("o") == index for a in choices)
        else choices[index]
    )


async def say(
    bot: TeamsBot, words: str, aad: str, conversation: str | None = None
) -> dict[str, Any]:
    """Type in the personal chat; the card the bot answered there (other posts, such as the
    desk's card updates, may arrive meanwhile)."""
    chat = conversation or f"a:personal-{aad}"
    before = len([p for p in bot.fake.posted if p.conversation == chat])
    kw: dict[str, Any] = {"aad": aad, "conversation": chat}
    answer = await bot.post(message(bot.fake.service_url, words, **kw))
    assert answer.status in (200, 202)
    await eventually(lambda: len([p for p in bot.fake.posted if p.conversation == chat]) > before)
    return [p for p in bot.fake.posted if p.conversation == chat][before].card


async def stored_card(bot: TeamsBot) -> dict[str, Any]:
    """The case's card locations once the Teams one is stored (just after the post)."""

    def located() -> dict[str, Any]:
        return json.loads(rows(bot, "SELECT card FROM cases")[0][0] or "{}")

    await eventually(lambda: bool(located().get("teams", {}).get("activity")))
    return located()


def rows(bot: TeamsBot, sql: str) -> list[Any]:
    with bot.services.db.tx() as s:
        return list(s.execute(text(sql)).all())


async def report(bot: TeamsBot, aad: str, mode: str = "named", **inputs: str) -> dict[str, Any]:
    """`report` typed in the personal chat, then the form submitted."""
    form = await say(bot, "report", aad)
    check_card(form, "report form")
    submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
    answer = await bot.press(submit, {"mode": mode, "topic": "honesty", **inputs}, aad=aad)
    check_card(answer.card, "receipt")
    return answer.card


async def test_a_teams_user_escalates_and_the_channel_gets_one_card_through_a_500_and_a_429(
    bot: TeamsBot,
) -> None:
    outcome = await walk_to_outcome(bot, "aad-reporter-1")
    assert "must be reported" in texts(outcome)
    form = (await bot.press(by_verb(outcome, CC.V_REPORT)[0], aad="aad-reporter-1")).card
    check_card(form, "report form")
    shown = texts(form)
    assert "Named" in shown and "Confidential" in shown and "Anonymous" in shown
    assert "Microsoft 365 keeps its own record" in shown and "/ethics" not in shown
    bot.fake.fault(Fault(status=503), Fault(status=429, retry_after="0"))
    submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
    inputs = {"mode": "named", "narrative": "it happened at the counter on Monday"}
    receipt = (await bot.press(submit, inputs, aad="aad-reporter-1")).card
    assert "is recorded" in texts(receipt)
    await eventually(lambda: len(desk_cards(bot.fake)) == 1)
    # the same form pressed again (a new invoke): recorded once, nothing posted again
    again = (await bot.press(submit, inputs, aad="aad-reporter-1")).card
    assert "already recorded" in texts(again)
    assert rows(bot, "SELECT count(*) FROM cases")[0][0] == 1
    card = desk_cards(bot.fake)[0]
    check_card(card.card, "case card")
    shown = texts(card.card)
    assert "ETH-" in shown and "Confidentiality" in shown and "new" in shown
    assert "counter on Monday" not in json.dumps(card.body)  # never the narrative
    assert "aad-reporter-1" not in json.dumps(card.body)  # nor the reporter
    assert bot.fake.attempts >= 3  # 503, 429, then accepted
    located = rows(bot, "SELECT card FROM cases")[0][0]
    assert (
        json.loads(located)["teams"]["activity"] == "act-1"
        or json.loads(located)["teams"]["activity"]
    )
    # the client retried inline; the row went once
    await eventually(
        lambda: (
            rows(bot, "SELECT status, attempts FROM outbox WHERE kind = 'case_card'")
            == [("sent", 1)]
        )
    )


async def test_officers_work_the_case_and_the_channel_sees_each_state(bot: TeamsBot) -> None:
    await report(bot, "aad-reporter-2", narrative="the branch manager shared a balance")
    await eventually(lambda: len(desk_cards(bot.fake)) == 1)
    posted = desk_cards(bot.fake)[0]
    activity_id = (await stored_card(bot))["teams"]["activity"]
    ack = by_verb(posted.card, CC.V_ACK)[0]

    # a colleague who is not an officer clicks Acknowledge: nothing changes, it is audited
    refused = (
        await bot.press(ack, aad=STAFF, conversation=COMPLY, conversation_type="channel")
    ).card
    assert "Only compliance officers" in texts(refused)
    assert rows(bot, "SELECT status FROM cases") == [("new",)]
    assert rows(bot, "SELECT action, result FROM audit_log WHERE result = 'refused'") == [
        ("case.acknowledge", "refused")
    ]
    assert not updates(bot.fake, activity_id)

    # an officer acknowledges: their answer and the channel message both show it
    mine = (
        await bot.press(ack, aad=OFFICER, conversation=COMPLY, conversation_type="channel")
    ).card
    check_card(mine, "acknowledged (clicker)")
    assert "acknowledged" in texts(mine)
    await eventually(lambda: len(updates(bot.fake, activity_id)) == 1)
    assert "acknowledged" in texts(updates(bot.fake, activity_id)[0].card)
    assert by_verb(updates(bot.fake, activity_id)[0].card, CC.V_ACK) == []

    # View details: the private card only the clicker gets (never posted), audited
    before = len(bot.fake.posted)
    details = (await bot.press(by_verb(mine, CC.V_VIEW)[0], aad=OFFICER2, conversation=COMPLY)).card
    check_card(details, "details")
    assert "branch manager shared a balance" in texts(details)
    assert "only you see this" in texts(details)
    await eventually(lambda: len(bot.fake.posted) >= before + 1)  # the channel card refreshed
    assert all("branch manager" not in json.dumps(p.body) for p in bot.fake.posted)
    assert ("case.view",) in rows(bot, "SELECT action FROM audit_log WHERE result = 'ok'")

    # assign to me, then close with an outcome: the channel sees each state
    n = len(updates(bot.fake, activity_id))
    assigned = (
        await bot.press(by_verb(mine, CC.V_ASSIGN_ME)[0], aad=OFFICER, conversation=COMPLY)
    ).card
    assert "investigating" in texts(assigned)
    await eventually(lambda: len(updates(bot.fake, activity_id)) > n)
    close = show_card_action(assigned, "Close")
    n = len(updates(bot.fake, activity_id))
    closed = (
        await bot.press(
            close,
            {"outcome": "advice_given", "text": "advised the branch"},
            aad=OFFICER,
            conversation=COMPLY,
        )
    ).card
    assert "closed" in texts(closed)
    await eventually(lambda: len(updates(bot.fake, activity_id)) > n)
    last = updates(bot.fake, activity_id)[-1].card
    check_card(last, "closed card")
    assert "closed (Advice given)" in texts(last) and by_verb(last, CC.V_REOPEN)
    assert "advised the branch" not in json.dumps(last)

    # reopening is for leads: an officer's attempt is refused and audited; the lead may
    nope = (await bot.press(by_verb(last, CC.V_REOPEN)[0], aad=OFFICER, conversation=COMPLY)).card
    assert "Only compliance officers" in texts(nope)
    assert rows(bot, "SELECT status FROM cases") == [("closed",)]
    reopened = (await bot.press(by_verb(last, CC.V_REOPEN)[0], aad=LEAD, conversation=COMPLY)).card
    assert "investigating" in texts(reopened)
    with bot.services.db.tx() as s:
        kinds = s.execute(text("SELECT kind FROM case_events ORDER BY id")).scalars().all()
    assert kinds == ["created", "acknowledge", "view", "assign", "close", "reopen"]


async def test_the_card_waits_with_a_clear_reason_until_the_desk_is_configured(
    sqlite_url: str, connector: FakeConnector
) -> None:
    b = await start(sqlite_url, connector, COMPLIANCE_TEAMS_CONVERSATION="")
    try:
        await report(b, "aad-reporter-3")
        await eventually(
            lambda: any(
                "COMPLIANCE_TEAMS_CONVERSATION" in (r[0] or "")
                for r in rows(b, "SELECT last_error FROM outbox WHERE kind = 'case_card'")
            )
        )
        assert desk_cards(connector) == []
    finally:
        await b.stop()
    # configured, but the app was never added to that channel: it waits and says why
    b = await start(sqlite_url, connector)
    try:
        await eventually(
            lambda: any(
                "never added" in (r[0] or "")
                for r in rows(b, "SELECT last_error FROM outbox WHERE kind = 'case_card'")
            )
        )
        await add_to_compliance_channel(b)
        b.services.signals.notify()
        await eventually(lambda: len(desk_cards(connector)) == 1, timeout=20)
    finally:
        await b.stop()


async def test_a_crash_after_teams_accepted_the_card_never_posts_it_twice(
    sqlite_url: str, connector: FakeConnector
) -> None:
    """The stored activity id wins over a redelivered row; an interrupted attempt (no answer
    from Teams) is reposted with a visible note instead of silently doubling."""
    b = await start(sqlite_url, connector)
    try:
        await add_to_compliance_channel(b)
        await report(b, "aad-reporter-4")
        await eventually(lambda: len(desk_cards(connector)) == 1)
        # the row comes back (a lease expired on a dead instance): nothing is posted again
        with b.services.db.tx() as s:
            s.execute(
                text("UPDATE outbox SET status = 'pending', attempts = 1 WHERE kind = 'case_card'")
            )
        b.services.signals.notify()
        await eventually(
            lambda: rows(b, "SELECT status FROM outbox WHERE kind = 'case_card'") == [("sent",)]
        )
        assert len(desk_cards(connector)) == 1
        # an attempt that died mid-call (the pending marker survived): reposted, and it says so
        case_id = rows(b, "SELECT id FROM cases")[0][0]
        b.services.cases.set_card(case_id, "teams", {"pending": "7", "conversation": COMPLY})
        with b.services.db.tx() as s:
            s.execute(text("UPDATE outbox SET status = 'pending' WHERE kind = 'case_card'"))
        b.services.signals.notify()
        await eventually(lambda: len(desk_cards(connector)) == 2)
        assert "interrupted" in texts(desk_cards(connector)[1].card)
    finally:
        await b.stop()


async def test_an_anonymous_teams_reporter_leaves_no_teams_id_anywhere(
    connector: FakeConnector, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    aad = "aad-anon-5e1f0c"
    chat = "a:1opaque-personal-chat-id"  # Teams' personal conversation ids do not name the user
    db_file = tmp_path / "anon.db"
    b = await start(f"sqlite:///{db_file}", connector)
    try:
        await add_to_compliance_channel(b)
        before = len(connector.posted)
        outcome = await walk_to_outcome(b, aad, conversation=chat)
        form = (await b.press(by_verb(outcome, CC.V_REPORT)[0], aad=aad, conversation=chat)).card
        submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
        short = (
            await b.press(
                submit, {"mode": "anonymous", "passphrase": "short"}, aad=aad, conversation=chat
            )
        ).card
        assert "at least 8 characters" in texts(short)
        receipt_card = (
            await b.press(
                by_verb(short, CC.V_REPORT_SUBMIT)[0],
                {
                    "mode": "anonymous",
                    "passphrase": "correct horse battery",
                    "narrative": "seen at desk four",
                },
                aad=aad,
                conversation=chat,
            )
        ).card
        check_card(receipt_card, "receipt")
        assert "**R-" in texts(receipt_card), texts(receipt_card)
        receipt = "R-" + texts(receipt_card).split("**R-")[1].split("**")[0]
        await eventually(lambda: len(desk_cards(connector)) == 1)
        desk = desk_cards(connector)[0].card
        assert "anonymous" in texts(desk)
        ask = show_card_action(desk, "Ask reporter")
        await b.press(ask, {"text": "Which day was it?"}, aad=OFFICER, conversation=COMPLY)
        # the reporter types `status`, logs in with receipt + passphrase, reads and answers
        login = await say(b, "status", aad, chat)
        check_card(login, "status login")
        wrong = (
            await b.press(
                by_verb(login, CC.V_STATUS_LOGIN)[0],
                {"receipt": receipt, "passphrase": "wrong guess!"},
                aad=aad,
                conversation=chat,
            )
        ).card
        assert "do not match" in texts(wrong)
        mine = (
            await b.press(
                by_verb(login, CC.V_STATUS_LOGIN)[0],
                {"receipt": receipt, "passphrase": "correct horse battery"},
                aad=aad,
                conversation=chat,
            )
        ).card
        check_card(mine, "reporter view")
        assert "Which day was it?" in texts(mine)
        answered = (
            await b.press(
                by_verb(mine, CC.V_STATUS_ANSWER)[0],
                {"answer": "Monday"},
                aad=aad,
                conversation=chat,
            )
        ).card
        assert "Monday" in texts(answered)
        await eventually(
            lambda: any("reporter answered" in json.dumps(p.body) for p in connector.posted)
        )
        outbound = connector.posted[before:]
    finally:
        await b.stop()
    assert outbound
    for p in outbound:
        if p.conversation != chat:  # what the bot sent anywhere but the reporter's own chat
            assert aad not in json.dumps(p.body) and "seen at desk four" not in json.dumps(p.body)
    for f in tmp_path.glob("anon.db*"):  # the database, its WAL and shared memory
        assert aad.encode() not in f.read_bytes(), f.name
    assert aad not in caplog.text
    assert "seen at desk four" not in caplog.text and "correct horse" not in caplog.text


async def test_a_named_teams_reporter_answers_through_status(bot: TeamsBot) -> None:
    await report(bot, "aad-reporter-5", mode="confidential")
    await eventually(lambda: len(desk_cards(bot.fake)) == 1)
    ask = show_card_action(desk_cards(bot.fake)[0].card, "Ask reporter")
    await bot.press(ask, {"text": "Who else was there?"}, aad=OFFICER, conversation=COMPLY)
    # the question reaches the reporter's personal chat, with a button to answer it
    chat = "a:personal-aad-reporter-5"
    await eventually(
        lambda: any(
            p.conversation == chat and "Who else" in json.dumps(p.body) for p in bot.fake.posted
        )
    )
    relayed = next(
        p for p in bot.fake.posted if p.conversation == chat and "Who else" in json.dumps(p.body)
    )
    check_card(relayed.card, "relayed question")
    assert by_verb(relayed.card, CC.V_STATUS_OPEN)
    login = await say(bot, "status", "aad-reporter-5")
    assert "Who else was there?" in texts(login)
    opened = (await bot.press(by_verb(login, CC.V_STATUS_OPEN)[0], aad="aad-reporter-5")).card
    answered = (
        await bot.press(
            by_verb(opened, CC.V_STATUS_ANSWER)[0], {"answer": "Only me"}, aad="aad-reporter-5"
        )
    ).card
    assert "Only me" in texts(answered)
    # someone else pressing the same button gets nothing of the case, and it is audited
    other = (await bot.press(by_verb(login, CC.V_STATUS_OPEN)[0], aad=STAFF)).card
    assert "Who else" not in texts(other)
    assert (
        rows(bot, "SELECT count(*) FROM audit_log WHERE action = 'teams.reporter_answer'")[0][0]
        == 1
    )


async def test_a_case_escalated_from_slack_is_worked_from_the_teams_desk(
    fake: FakeSlack, connector: FakeConnector, sqlite_url: str
) -> None:
    env = {
        **slack_env(sqlite_url, fake.url),
        **teams_env(sqlite_url, FIXTURE_CONTENT, **DESK),
        **FAST,
    }
    services = bootstrap(Settings.from_env(env))
    assert services.settings.platforms == ("slack", "teams")
    teams = await TeamsBot(services, connector).start()
    slack = SlackBot(services, fake)
    slack.url, slack.http = teams.url, teams.http  # the one server serves both platforms
    try:
        await add_to_compliance_channel(teams)
        view = await walk_to_required(slack, fake, "U9")
        await slack.post(interactive_body(report_submission(view, "named", user="U9")))
        await eventually(lambda: len(card_posts(fake)) == 1 and len(desk_cards(connector)) == 1)
        card = desk_cards(connector)[0].card
        check_card(card, "slack case on the teams desk")
        location = await stored_card(teams)
        assert set(location) == {"slack", "teams"}
        mine = (
            await teams.press(by_verb(card, CC.V_ACK)[0], aad=OFFICER, conversation=COMPLY)
        ).card
        assert "acknowledged" in texts(mine)
        # both desks show the new state
        await eventually(lambda: len(updates(connector, location["teams"]["activity"])) == 1)
        await eventually(lambda: len(fake.of("chat.update")) >= 1)
        assert "acknowledged" in str(fake.of("chat.update")[-1].args)
        assert rows(teams, "SELECT actor FROM case_events WHERE kind = 'acknowledge'") == [
            (f"teams:{OFFICER}",)
        ]
    finally:
        await teams.stop()


async def test_reminders_go_to_the_card_thread_mentioning_the_teams_assignee(
    sqlite_url: str, connector: FakeConnector
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    env = teams_env(sqlite_url, FIXTURE_CONTENT, **DESK)
    b = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), connector).start()
    try:
        await add_to_compliance_channel(b)
        await report(b, "aad-reporter-6")
        await eventually(lambda: len(desk_cards(connector)) == 1)
        card = desk_cards(connector)[0].card
        activity = (await stored_card(b))["teams"]["activity"]
        await b.press(by_verb(card, CC.V_ASSIGN_ME)[0], aad=OFFICER, conversation=COMPLY)

        def reminders() -> list[Posted]:
            return [
                p
                for p in connector.posted
                if p.method == "POST" and p.activity_id == activity and "⏰" in str(p.body)
            ]

        clock.now += timedelta(days=50)  # past half of the 3-month feedback clock
        assert b.services.cases.remind() == 1
        await eventually(lambda: len(reminders()) == 1)
        assert b.services.cases.remind() == 0  # the same point never twice
        clock.now += timedelta(days=45)  # overdue
        assert b.services.cases.remind() == 1
        await eventually(lambda: len(reminders()) == 2)
        last = reminders()[-1].body
        assert "OVERDUE" in last["text"] and "<at>assignee</at>" in last["text"]
        assert last["entities"][0]["mentioned"]["id"] == OFFICER
        assert last["replyToId"] == activity  # in the card's thread
    finally:
        await b.stop()


async def officer_asks(bot: TeamsBot, desk_card: dict[str, Any], question: str) -> None:
    ask = show_card_action(desk_card, "Ask reporter")
    await bot.press(ask, {"text": question}, aad=OFFICER, conversation=COMPLY)


def relayed_to(fake: FakeConnector, chat: str, question: str) -> list[Posted]:
    return [
        p
        for p in fake.posted
        if p.conversation == chat and question in json.dumps(p.body, ensure_ascii=False)
    ]


async def test_a_confidential_reporter_consents_from_the_question_card_and_only_they_can(
    bot: TeamsBot,
) -> None:
    reporter, chat = "aad-reporter-7", "a:personal-aad-reporter-7"
    await report(bot, reporter, mode="confidential", narrative="the desk shared a balance")
    await eventually(lambda: len(desk_cards(bot.fake)) == 1)
    desk = desk_cards(bot.fake)[0].card
    # before consent an officer who is not the assignee sees the reporter hidden
    hidden = (await bot.press(by_verb(desk, CC.V_VIEW)[0], aad=OFFICER2, conversation=COMPLY)).card
    assert "confidential (hidden)" in texts(hidden)
    assert "Teams user aad-repo" not in texts(hidden)

    await officer_asks(bot, desk, "Who else was there?")
    await eventually(lambda: bool(relayed_to(bot.fake, chat, "Who else")))
    question = relayed_to(bot.fake, chat, "Who else")[0].card
    check_card(question, "question with consent")
    assert "allow the case team to see it" in texts(question)
    (consent,) = by_verb(question, CC.V_CONSENT)
    assert "I consent to share my identity" in consent["title"]

    # a colleague replaying the button is refused and audited; the case is unchanged
    forged = (await bot.press(consent, aad=STAFF)).card
    assert "thank you" not in texts(forged).lower()
    assert "no longer valid" in texts(forged)
    assert rows(bot, "SELECT consent FROM cases") == [(False,)]
    assert rows(
        bot, "SELECT action, result FROM audit_log WHERE action = 'teams.reporter_consent'"
    ) == [("teams.reporter_consent", "refused")]

    # the reporter consents: thanked, and the case team now sees who reported
    thanks = (await bot.press(consent, aad=reporter)).card
    check_card(thanks, "consent thanks")
    assert "the case team may now see your identity" in texts(thanks)
    assert rows(bot, "SELECT consent FROM cases") == [(True,)]
    shown = (await bot.press(by_verb(desk, CC.V_VIEW)[0], aad=OFFICER2, conversation=COMPLY)).card
    assert "Teams user aad-repo" in texts(shown) and "confidential (hidden)" not in texts(shown)
    assert "consent" in texts(shown)  # the timeline says when
    # the channel card itself still names nobody (channels are read by many)
    assert all(reporter not in json.dumps(p.body) for p in desk_cards(bot.fake))


async def test_a_named_reporter_is_not_offered_consent_and_reads_the_question_in_chinese(
    bot: TeamsBot,
) -> None:
    reporter, chat = "aad-reporter-8", "a:personal-aad-reporter-8"
    await bot.post(message(bot.fake.service_url, "lang zh", aad=reporter))
    await report(bot, reporter, mode="named")
    await eventually(lambda: len(desk_cards(bot.fake)) == 1)
    await officer_asks(bot, desk_cards(bot.fake)[0].card, "哪一天？")
    await eventually(lambda: bool(relayed_to(bot.fake, chat, "哪一天")))
    question = relayed_to(bot.fake, chat, "哪一天")[0].card
    check_card(question, "named question zh")
    assert "合规部门提问" in texts(question)
    assert by_verb(question, CC.V_CONSENT) == []


def every_stored_value(bot: TeamsBot) -> str:
    """Every column of every row of every table, as text (a database dump, portably)."""
    from sqlalchemy import inspect

    out: list[str] = []
    engine = bot.services.db.engine
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                out.extend(f"{table}:{v}" for v in row)
    return "\n".join(out)


async def test_relayed_questions_reach_the_named_reporter_and_nothing_names_the_anonymous_one(
    bot: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Both report from Teams and consult first (so the reflection hook sees both chats);
    compliance asks each a question. The named reporter gets it in their personal chat; of
    the anonymous one no table, log line or connector call holds their Teams or Entra id,
    and no case's card locations hold anyone's chat."""
    caplog.set_level(logging.DEBUG)
    anon, anon_chat = "aad-anon-77c1d2", "a:1opaque-anonymous-chat"
    named, named_chat = "aad-named-4b9e", "a:1opaque-named-chat"
    for aad, chat, mode, inputs in (
        (anon, anon_chat, "anonymous", {"passphrase": "correct horse battery"}),
        (named, named_chat, "named", {}),
    ):
        outcome = await walk_to_outcome(bot, aad, conversation=chat)
        form = (await bot.press(by_verb(outcome, CC.V_REPORT)[0], aad=aad, conversation=chat)).card
        receipt = (
            await bot.press(
                by_verb(form, CC.V_REPORT_SUBMIT)[0],
                {"mode": mode, **inputs},
                aad=aad,
                conversation=chat,
            )
        ).card
        assert "is recorded" in texts(receipt)
    await eventually(lambda: len(desk_cards(bot.fake)) == 2)
    for desk in desk_cards(bot.fake):
        await officer_asks(bot, desk.card, f"Which day? ({'anonymous' in texts(desk.card)})")
    await eventually(
        lambda: (
            rows(
                bot, "SELECT count(*) FROM outbox WHERE kind = 'relay_question' AND status = 'sent'"
            )
            == [(2,)]
        )
    )
    # the named reporter has the question in their own chat, the anonymous one nothing
    assert relayed_to(bot.fake, named_chat, "Which day? (False)")
    assert not [
        p
        for p in bot.fake.posted
        if "Which day" in json.dumps(p.body) and p.conversation != named_chat
    ]
    # no case's card JSON holds a personal chat or a reporter
    for (card,) in rows(bot, "SELECT card FROM cases"):
        assert set(json.loads(card or "{}")) <= {"teams"}, card
        assert "a:1opaque" not in card
    dump = every_stored_value(bot)
    assert f"teams:{named}" in dump  # the check can see a stored identity: the named one is
    assert anon not in dump
    traffic = json.dumps([(p.conversation, p.activity_id, p.body) for p in bot.fake.posted])
    assert anon not in traffic
    assert anon not in caplog.text


@pytest.mark.parametrize("keyed", [True, False], ids=["key-in-env", "key-unknown"])
async def test_an_upgrade_moves_a_reporter_chat_out_of_the_card_json_and_questions_still_arrive(
    db_url: str, connector: FakeConnector, monkeypatch: pytest.MonkeyPatch, keyed: bool
) -> None:
    """A database from the release that kept the reporter's personal chat in the case's card
    locations (`teams-reporter`): migration 0012 moves it under the reporter's pseudonym and
    strips the key, so compliance's next question still reaches the named reporter while the
    card JSON names no chat; an anonymous case's stray key is dropped, never moved. When the
    migration cannot know the pseudonym key, the key is stripped all the same and the
    question waits for the reporter's `status` (privacy first)."""
    if keyed:
        monkeypatch.setenv("ETHICSBOT_SECRET_KEY", "test-pseudonym-key")  # as the operator sets
    else:
        monkeypatch.delenv("ETHICSBOT_SECRET_KEY", raising=False)
    named, named_chat = "aad-legacy-named", "a:1opaque-legacy-chat"
    anon_chat = "a:1opaque-legacy-anon-chat"
    b = await start(db_url, connector)
    try:
        await add_to_compliance_channel(b)
        for aad, chat, mode in (
            (named, named_chat, "named"),
            ("aad-legacy-anon", anon_chat, "anonymous"),
        ):
            form = await say(b, "report", aad, chat)
            await b.press(
                by_verb(form, CC.V_REPORT_SUBMIT)[0],
                {"mode": mode, "topic": "honesty", "passphrase": "correct horse battery"},
                aad=aad,
                conversation=chat,
            )
        await eventually(lambda: len(desk_cards(connector)) == 2)
        await eventually(
            lambda: all(
                "activity" in json.loads(c or "{}").get("teams", {})
                for (c,) in rows(b, "SELECT card FROM cases")
            )
        )
        # what the old release stored, and the schema version it stopped at
        for case_id, mode in rows(b, "SELECT id, mode FROM cases"):
            chat = named_chat if mode == "named" else anon_chat
            b.services.cases.set_card(case_id, "teams-reporter", {"conversation": chat})
        with b.services.db.tx() as s:
            s.execute(text("DELETE FROM teams_personal_chats"))
            s.execute(text("UPDATE alembic_version SET version_num = '0011_teamsrep'"))
    finally:
        await b.stop()

    b = await start(db_url, connector)  # migrates at start-up
    try:
        # migrated through 0012 (and any later migration) to the head
        assert rows(b, "SELECT version_num FROM alembic_version") == [(schema_head(),)]
        for (card,) in rows(b, "SELECT card FROM cases"):
            where = json.loads(card)
            assert set(where) == {"teams"} and where["teams"]["activity"], card
        assert [c for (c,) in rows(b, "SELECT conversation_id FROM teams_personal_chats")] == (
            [named_chat] if keyed else []
        )
        named_desk = next(p.card for p in desk_cards(connector) if "anonymous" not in texts(p.card))
        await officer_asks(b, named_desk, "Still there after the upgrade?")
        if keyed:
            await eventually(lambda: bool(relayed_to(connector, named_chat, "Still there")))
        else:
            await eventually(
                lambda: any(
                    "no personal chat known" in (r or "")
                    for (r,) in rows(b, "SELECT result FROM outbox WHERE kind = 'relay_question'")
                )
            )
            assert not relayed_to(connector, named_chat, "Still there")
        assert not relayed_to(connector, anon_chat, "Still there")
    finally:
        await b.stop()


async def test_a_teams_assignee_hears_in_their_personal_chat_and_nobody_else_does(
    sqlite_url: str, connector: FakeConnector
) -> None:
    """Slack DMs the assignee a reminder and "the reporter answered"; in Teams the same
    reaches the officer's personal chat once they have one with the bot, and nobody else's."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    env = teams_env(sqlite_url, FIXTURE_CONTENT, **DESK)
    b = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), connector).start()
    officer_chat, staff_chat = f"a:personal-{OFFICER}", f"a:personal-{STAFF}"
    try:
        await add_to_compliance_channel(b)
        await say(b, "hello", OFFICER)  # the officer's personal chat with the bot
        await say(b, "hello", STAFF)
        reporter = "aad-reporter-8"
        await report(b, reporter, mode="named")
        await eventually(lambda: len(desk_cards(connector)) == 1)
        card = desk_cards(connector)[0].card
        await b.press(by_verb(card, CC.V_ASSIGN_ME)[0], aad=OFFICER, conversation=COMPLY)

        def in_chat(chat: str, mark: str) -> list[Posted]:
            return [
                p
                for p in connector.posted
                if p.conversation == chat and mark in json.dumps(p.body, ensure_ascii=False)
            ]

        clock.now += timedelta(days=50)  # past half of the 3-month feedback clock
        assert b.services.cases.remind() == 1
        await eventually(lambda: len(in_chat(officer_chat, "⏰")) == 1)
        # the thread reply stays the record
        activity = (await stored_card(b))["teams"]["activity"]
        assert [p for p in connector.posted if p.activity_id == activity and "⏰" in str(p.body)]

        # the reporter answers a question: the assignee is told in their personal chat
        ask = show_card_action(card, "Ask reporter")
        await b.press(ask, {"text": "When was it?"}, aad=OFFICER, conversation=COMPLY)
        login = await say(b, "status", reporter)
        opened = (await b.press(by_verb(login, CC.V_STATUS_OPEN)[0], aad=reporter)).card
        await b.press(by_verb(opened, CC.V_STATUS_ANSWER)[0], {"answer": "Monday"}, aad=reporter)
        await eventually(lambda: len(in_chat(officer_chat, "answered")) == 1)
        told = in_chat(officer_chat, "answered")[0]
        assert "Monday" not in json.dumps(told.body, ensure_ascii=False)  # the ref only
        assert not in_chat(officer_chat, "Monday")
        thread = [p for p in connector.posted if p.activity_id == activity]
        assert not [p for p in thread if "✉️" in str(p.body)]
        assert not in_chat(staff_chat, "⏰") and not in_chat(staff_chat, "answered")
    finally:
        await b.stop()
