"""The reflection follow-up in Teams, through the real server and the fake Bot Connector:
asked once in the person's personal chat (two instances), answered through the reflection
service as in Slack, "worse" offering the Teams speak-up flow at once, a click on someone
else's follow-up refused and audited, and "stop asking me" on the ask and the welcome card."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.adapters.teams import case_cards as CC
from bot.adapters.teams import reflection_cards as RC
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.teams_connector import FakeConnector, Posted, TeamsBot, by_verb, teams_env, texts
from tests.harness import eventually, put_back
from tests.test_cases import FakeClock
from tests.test_teams_golden import check_card

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SAFE, LEAK = 0, 1  # the option at "weigh" in tests/fixtures/content/dilemmas/mini.yaml


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[TeamsBot, TeamsBot, FakeClock]]:
    """Two instances on one database, one connector, one clock."""
    fake = await FakeConnector().start()
    clock = FakeClock(T0)
    env = teams_env(db_url, FIXTURE_CONTENT, ETHICSBOT_OUTBOX_LEASE="1")
    a = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    b = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    yield a, b, clock
    await a.stop()
    await b.stop()
    await fake.stop()


def chat(aad: str) -> str:
    return f"a:personal-{aad}"  # the personal chat the fake's activities come from


async def walk(bot: TeamsBot, aad: str, last: int) -> dict[str, Any]:
    """`mini` in the personal chat, to an outcome: SAFE (no report) or LEAK (report required)."""
    card = await bot.say("mini", aad=aad)
    card = (await bot.press(by_verb(card, "choose")[0], aad=aad)).card
    card = (await bot.press(by_verb(card, "answer")[0], {"answer": "asked"}, aad=aad)).card
    card = (await bot.press(by_verb(card, "proceed")[0], aad=aad)).card
    card = (await bot.press(by_verb(card, "choose")[last], aad=aad)).card
    assert "Refuse and verify" in texts(card) or "Report the disclosure" in texts(card)
    return card


def asks(bot: TeamsBot, aad: str) -> list[Posted]:
    return [
        p
        for p in bot.fake.posted
        if p.conversation == chat(aad) and p.method == "POST" and by_verb(p.card, RC.V_ANSWER)
    ]


def rows(bot: TeamsBot) -> list[dict[str, Any]]:
    with bot.services.db.read() as s:
        return [dict(r._mapping) for r in s.execute(text("SELECT * FROM reflections"))]


async def test_one_follow_up_in_the_personal_chat_and_worse_offers_to_speak_up(
    two: tuple[TeamsBot, TeamsBot, FakeClock],
) -> None:
    a, b, clock = two
    await walk(a, "aad-user-1", LEAK)  # an outcome whose report is required
    await walk(b, "aad-user-3", SAFE)  # an outcome that offered no report
    clock.now = T0 + timedelta(days=13)
    assert a.services.reflection.tick() == 0  # not due yet
    clock.now = T0 + timedelta(days=15)
    ticked = [bot.services.reflection.tick() for bot in (a, b, a, b)]
    assert sum(ticked) == 2  # two follow-ups, queued by one instance each
    for bot in (a, b):
        bot.services.signals.notify()
    await eventually(lambda: len(asks(a, "aad-user-1")) == 1 and len(asks(a, "aad-user-3")) == 1)
    await asyncio.sleep(1.5)  # leases of 1 s: time enough for a duplicate to show
    assert len(asks(a, "aad-user-1")) == 1 and len(asks(a, "aad-user-3")) == 1
    ask = asks(a, "aad-user-1")[0].card
    check_card(ask, "reflection ask")
    shown = texts(ask)
    assert "How did it turn out?" in shown and "15 days ago" in shown
    assert by_verb(ask, RC.V_STOP)  # stop asking me, on the ask itself
    (submit,) = by_verb(ask, RC.V_ANSWER)

    # someone else clicks aad-user-1's follow-up (a forged invoke): refused and audited
    forged = (
        await a.press(submit, {"turned_out": "better", "same_again": "yes"}, aad="aad-user-9")
    ).card
    assert "someone else" in texts(forged) and "Thank you" not in texts(forged)

    # nothing chosen: the same questions again, with what is missing
    again = (await a.press(submit, {"same_again": "yes"}, aad="aad-user-1")).card
    check_card(again, "ask again")
    assert "Please choose one." in texts(again) and by_verb(again, RC.V_ANSWER)

    thanks = (
        await a.press(
            submit,
            {"turned_out": "worse", "same_again": "no", "learned": "Ask for ID  first <at>x</at>"},
            aad="aad-user-1",
        )
    ).card
    check_card(thanks, "thanks, worse")
    assert "tell compliance at once" in texts(thanks)
    (report,) = by_verb(thanks, CC.V_REPORT)
    assert report["data"]["s"]  # the outcome's own report, with its consultation
    form = (await a.press(report, aad="aad-user-1")).card
    check_card(form, "report form from the follow-up")
    assert by_verb(form, CC.V_REPORT_SUBMIT)

    other = asks(a, "aad-user-3")[0].card
    (submit3,) = by_verb(other, RC.V_ANSWER)
    thanks3 = (
        await b.press(submit3, {"turned_out": "worse", "same_again": "yes"}, aad="aad-user-3")
    ).card
    (fresh,) = by_verb(thanks3, CC.V_REPORT)
    assert not fresh["data"].get("s")  # a report without the consultation
    assert by_verb((await b.press(fresh, aad="aad-user-3")).card, CC.V_REPORT_SUBMIT)
    better = (
        await b.press(submit3, {"turned_out": "better", "same_again": "yes"}, aad="aad-user-3")
    ).card
    assert by_verb(better, CC.V_REPORT) == []  # changed their mind: no offer now

    stored = {r["turned_out"]: r for r in rows(a)}
    with a.services.db.read() as s:
        refused = s.execute(
            text("SELECT count(*) FROM audit_log WHERE result = 'refused'")
        ).scalar()
    assert set(stored) == {"worse", "better"} and refused == 1
    assert stored["worse"]["learned"] == "Ask for ID first <at>x</at>"  # one line, as typed
    assert stored["worse"]["same_again"] in (False, 0)
    dump = json.dumps([{k: str(v) for k, v in r.items()} for r in stored.values()])
    assert "aad-user" not in dump and all(r["owner"].startswith("p:") for r in stored.values())
    with a.services.db.read() as s:
        chats = s.execute(text("SELECT owner, conversation_id FROM teams_personal_chats")).all()
    assert chats and all(o.startswith("p:") and "aad" not in o for o, _ in chats)


async def test_stop_asking_me_on_the_welcome_card_and_on_the_ask(
    two: tuple[TeamsBot, TeamsBot, FakeClock],
) -> None:
    a, _b, clock = two
    welcome = await a.say("ethics", aad="aad-user-4")
    check_card(welcome, "welcome with the opt-out")
    (stop,) = by_verb(welcome, RC.V_STOP)
    done = (await a.press(stop, aad="aad-user-4")).card
    assert "will not ask you" in texts(done)
    assert by_verb(await a.say("ethics", aad="aad-user-4"), RC.V_STOP) == []  # said once
    await walk(a, "aad-user-4", SAFE)  # opted out before: never scheduled

    await walk(a, "aad-user-5", SAFE)
    await walk(a, "aad-user-6", SAFE)
    # aad-user-6 opts out from the welcome card after the follow-up was queued: not sent
    clock.now = T0 + timedelta(days=15)
    assert a.services.reflection.tick() == 2
    a.services.reflection.opt_out("teams:aad-user-6")
    a.services.signals.notify()
    await eventually(lambda: len(asks(a, "aad-user-5")) == 1)
    await asyncio.sleep(0.5)
    assert asks(a, "aad-user-4") == [] and asks(a, "aad-user-6") == []
    # aad-user-5 stops from the ask itself: the answer is no longer taken, nothing more sent
    ask = asks(a, "aad-user-5")[0].card
    assert "will not ask you" in texts(
        (await a.press(by_verb(ask, RC.V_STOP)[0], aad="aad-user-5")).card
    )
    assert a.services.reflection.opted_out("teams:aad-user-5")
    statuses = sorted(r["status"] for r in rows(a))
    assert statuses == ["asked", "skipped"]  # 5 asked, 6 skipped; 4 never scheduled


async def test_after_a_crash_mid_delivery_and_a_restart_nobody_is_asked_twice(
    sqlite_url: str,
) -> None:
    """A process that claimed a follow-up died mid-post: the instance started later does not
    ask again (asking twice is worse than once too few). Another follow-up, refused by Teams
    (500 three times), is asked exactly once after the back-off."""
    from bot.delivery import outbox
    from tests.fakes.teams_connector import Fault

    fake = await FakeConnector().start()
    clock = FakeClock(T0)
    env = teams_env(sqlite_url, FIXTURE_CONTENT, ETHICSBOT_OUTBOX_LEASE="1")
    first = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    await walk(first, "aad-user-7", SAFE)
    clock.now = T0 + timedelta(hours=1)
    await walk(first, "aad-user-8", SAFE)
    await first.stop()  # the instance the consultations went through is gone
    dead = bootstrap(Settings.from_env(env), clock=clock)
    clock.now = T0 + timedelta(days=14, minutes=30)
    assert dead.reflection.tick() == 1  # aad-user-7's
    (job,) = outbox.claim(dead.db, "teams", clock(), lease=timedelta(seconds=1))  # ...and died
    clock.now = T0 + timedelta(days=14, hours=1, seconds=2)
    fake.fault(Fault(503), Fault(503), Fault(503))
    bot = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    try:
        assert bot.services.reflection.tick() == 1  # aad-user-8's
        bot.services.signals.notify()
        await eventually(lambda: not fake.faults)
        await eventually(lambda: put_back(bot.services, "reflection_ask"))
        clock.now += timedelta(minutes=6)  # past the back-off
        await eventually(lambda: len(asks(bot, "aad-user-8")) == 1, timeout=30)
        await eventually(lambda: sorted(r["status"] for r in rows(bot)) == ["asked", "asked"])
        await asyncio.sleep(1.5)
    finally:
        await bot.stop()
        await fake.stop()
    assert job.payload["session_id"] in {r["session_id"] for r in rows(bot)}
    assert asks(bot, "aad-user-7") == [] and len(asks(bot, "aad-user-8")) == 1
