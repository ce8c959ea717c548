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
