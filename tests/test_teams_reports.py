"""Pictures in Teams, through the real server, the outbox and the fake Bot Connector: the
monthly compliance report reaches the Teams desk once (two instances, connector faults), as
one card with the chart inline (a data URI, never a URL) and the CSV's numbers; the exercise
reveal carries the answer chart from five answers on, and none under five."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.teams import exercise_cards as XC
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.teams_connector import (
    FakeConnector,
    Fault,
    Posted,
    TeamsBot,
    by_verb,
    teams_env,
)
from tests.harness import eventually, put_back
from tests.test_cases import FakeClock
from tests.test_teams_cases import COMPLY, DESK, add_to_compliance_channel
from tests.test_teams_exercises import answer, channel_posts, command, posted_id, world
from tests.test_teams_golden import check_card

__all__ = ["world"]  # the exercise fixture, reused

PNG = b"\x89PNG\r\n\x1a\n"
SEEN = os.environ.get("ETHICSBOT_SEE_CHARTS")  # a directory: the decoded charts are written there


def images(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Image":
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return found


def decoded(img: dict[str, Any], name: str) -> bytes:
    """The PNG inside a data URI (and, when asked, written out to look at)."""
    head, _, data = img["url"].partition(",")
    assert head == "data:image/png;base64"
    png = base64.b64decode(data, validate=True)
    if SEEN:
        Path(SEEN, name).write_bytes(png)
    return png


def facts(card: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(section, item) -> value as the card shows them (section heading, then its facts)."""
    out: dict[tuple[str, str], str] = {}
    section = ""
    for block in card["body"]:
        if block["type"] == "TextBlock" and block["text"].startswith("**"):
            section = block["text"].strip("*")
        if block["type"] == "FactSet":
            for f in block["facts"]:
                out[(section, f["title"])] = f["value"]
    return out


def reports(fake: FakeConnector) -> list[Posted]:
    return [
        p
        for p in fake.posted
        if p.conversation == COMPLY
        and p.method == "POST"
        and str(p.body.get("summary", "")).startswith("Compliance report")
    ]


async def test_the_monthly_report_reaches_the_teams_desk_once_as_one_card(db_url: str) -> None:
    fake = await FakeConnector().start()
    clock = FakeClock(datetime(2026, 11, 10, 2, 0, tzinfo=UTC))
    env = teams_env(db_url, FIXTURE_CONTENT, **DESK)
    a = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    b = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    try:
        await add_to_compliance_channel(a)
        for i, topic in enumerate(["honesty"] * 5 + ["confidentiality"]):
            a.services.cases.escalate(
                reporter_identity=f"teams:aad-reporter-{i}",
                mode="named",
                record=None,
                topic=topic,
                session_id=None,
                narrative="private words that must not reach the channel",
            )
        await eventually(lambda: len([p for p in fake.posted if p.conversation == COMPLY]) >= 6)
        # Teams answers 500 three times: the connector client gives up, the outbox backs off
        fake.fault(Fault(503), Fault(503), Fault(503))
        clock.now = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, 1 December
        queued = [bot.services.reports.tick() for bot in (a, b, a, b)]
        assert queued.count(True) == 1  # exactly one instance queued it
        await eventually(lambda: not fake.faults)
        # the worker has put the row back (its back-off counts from the clock as it is now)
        await eventually(lambda: put_back(a.services, "monthly_report"))
        assert reports(fake) == []  # refused three times: nothing was posted
        clock.now += timedelta(minutes=6)  # past any back-off
        await eventually(lambda: len(reports(fake)) == 1, timeout=30)
        await asyncio.sleep(1.5)  # leases of 1 s: time enough for a duplicate to show
        assert not a.services.reports.tick() and not b.services.reports.tick()
        numbers = a.services.reports.monthly_files("2026-11").csv
    finally:
        await a.stop()
        await b.stop()
        await fake.stop()
    (post,) = reports(fake)
    card = post.card
    check_card(card, "monthly report")
    (img,) = images(card)
    png = decoded(img, "teams-monthly-en.png")
    assert png.startswith(PNG) and "2026-11" in img["altText"]
    assert "Compliance report for 2026-11" in card["body"][0]["text"]
    # the card holds the CSV's numbers, cell for cell
    rows = list(csv.reader(io.StringIO(numbers.decode())))
    assert facts(card) == {(r[1], r[2]): r[3] for r in rows[1:]}
    assert facts(card)[("by_topic", "honesty")] == "5"
    assert facts(card)[("by_topic", "confidentiality")] == "fewer than 5"  # k >= 5
    everything = json.dumps([p.body for p in fake.posted])
    assert "private words" not in everything and "aad-reporter" not in everything
    assert "http" not in json.dumps(card).replace("http://adaptivecards.io/schemas", "")


async def test_the_monthly_report_waits_for_the_teams_desk_and_fits_in_zh(db_url: str) -> None:
    """Without the app in the desk channel the row waits (nothing lost); the chart drawn
    for Teams fits the card in both languages (looked at: ETHICSBOT_SEE_CHARTS=dir)."""
    from bot.adapters.teams.reports import monthly_report_card

    fake = await FakeConnector().start()
    clock = FakeClock(datetime(2026, 11, 10, 2, 0, tzinfo=UTC))
    env = teams_env(db_url, FIXTURE_CONTENT, **DESK)
    bot = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    try:
        for i in range(7):
            bot.services.cases.escalate(
                reporter_identity=f"teams:aad-r-{i}",
                mode="anonymous" if i % 2 else "named",
                record=None,
                topic="fair_treatment",
                session_id=None,
                narrative="x",
                passphrase="correct horse battery staple",
            )
        clock.now = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
        assert bot.services.reports.tick()
        await asyncio.sleep(0.5)
        assert reports(fake) == []  # never added to the desk channel: waits
        await add_to_compliance_channel(bot)
        clock.now += timedelta(minutes=6)
        await eventually(lambda: len(reports(fake)) == 1, timeout=30)
        for lang in ("en", "zh"):
            card = monthly_report_card(bot.services.reports, "2026-11", lang)
            check_card(card, f"monthly {lang}")
            (img,) = images(card)
            assert decoded(img, f"teams-monthly-card-{lang}.png").startswith(PNG)
        assert (
            "合规月报"
            in monthly_report_card(bot.services.reports, "2026-11", "zh")["body"][0]["text"]
        )
    finally:
        await bot.stop()
        await fake.stop()


async def reveal_after(world: tuple[TeamsBot, FakeClock], options: str) -> dict[str, Any]:
    """A weekly exercise posted, answered by one colleague per option, and revealed: the
    reveal's card in the post's thread."""
    from tests.test_exercises import SHANGHAI_MON_0900

    bot, clock = world
    await command(bot, "exercise weekly mon 09:00 fri 16:00 Asia/Shanghai")
    clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()
    await eventually(lambda: len(channel_posts(bot)) == 1)
    posted = channel_posts(bot)[0]
    for i, option in enumerate(options):
        await answer(bot, posted.card, option, f"aad-staff-{i}", f"2026-12-07T01:0{i}:00Z")
    clock.now = SHANGHAI_MON_0900 + timedelta(days=4, hours=7, seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()
    activity = posted_id(bot)

    def in_thread() -> list[Posted]:
        return [p for p in bot.fake.posted if p.method == "POST" and p.activity_id == activity]

    await eventually(lambda: bool(in_thread()))
    return in_thread()[0].card


async def test_the_teams_reveal_carries_the_answer_chart_from_five_answers(
    world: tuple[TeamsBot, FakeClock],
) -> None:
    reveal = await reveal_after(world, "bbbac")
    check_card(reveal, "reveal with chart")
    (img,) = images(reveal)
    assert decoded(img, "teams-reveal-zh.png").startswith(PNG)
    alt = img["altText"]
    assert "5 人作答" in alt and "推荐答案" in alt  # the recommended answer is marked
    assert by_verb(reveal, XC.V_ANSWER) == []  # the reveal takes no answers


async def test_no_chart_under_five_answers(world: tuple[TeamsBot, FakeClock]) -> None:
    reveal = await reveal_after(world, "bba")
    check_card(reveal, "reveal without chart")
    assert images(reveal) == [] and "少于 5 人" in json.dumps(reveal, ensure_ascii=False)


async def test_an_exercise_post_whose_delivery_is_unknown_is_not_posted_twice(
    db_url: str,
) -> None:
    """Issue 9: a process dies in the middle of the connector call (its pending marker is
    stored, Teams' answer never came). The instance that takes the row over must not post
    the exercise a second time; the reveal then goes to the channel as a new message, once."""
    from bot.adapters.teams.references import ConversationRef, ConversationStore
    from bot.delivery import outbox
    from tests.test_exercises import SHANGHAI_MON_0900
    from tests.test_teams_exercises import CHANNEL

    fake = await FakeConnector().start()
    clock = FakeClock(SHANGHAI_MON_0900 - timedelta(days=1))
    env = teams_env(db_url, FIXTURE_CONTENT, ETHICSBOT_OUTBOX_LEASE="1")
    dead = bootstrap(Settings.from_env(env), clock=clock)  # the process that will die
    ConversationStore(dead.db, clock).remember(
        ConversationRef(CHANNEL, fake.service_url, kind="channel", team_id="19:team")
    )
    dead.exercises.schedule(
        "cli:ops", platform="teams", channel=CHANNEL, kind="weekly",
        post="mon 09:00", reveal="fri 16:00", tz="Asia/Shanghai",
    )  # fmt: skip
    clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
    dead.exercises.tick()
    (job,) = outbox.claim(dead.db, "teams", clock(), lease=timedelta(seconds=1))
    post_id = str(job.payload["post_id"])
    status = dead.exercises.post(post_id).status
    dead.exercises.mark(post_id, status, {"pending": str(job.id)})  # ...and then it died
    clock.now += timedelta(seconds=2)  # its lease runs out
    bot = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    try:
        bot.services.signals.notify()
        await eventually(lambda: bool(bot.services.exercises.post(post_id).message.get("unknown")))
        await asyncio.sleep(0.5)
        assert fake.posted == []  # not posted a second time
        clock.now = SHANGHAI_MON_0900 + timedelta(days=4, hours=7, seconds=30)
        bot.services.exercises.tick()
        bot.services.signals.notify()
        await eventually(lambda: len(fake.posted) == 1)
        await eventually(lambda: bot.services.exercises.post(post_id).status == "revealed")
        await asyncio.sleep(1.5)
    finally:
        await bot.stop()
        await fake.stop()
    (reveal,) = fake.posted
    assert reveal.method == "POST" and reveal.conversation == CHANNEL and not reveal.activity_id
    check_card(reveal.card, "reveal of a post whose delivery is unknown")
    assert "答案揭晓" in json.dumps(reveal.card, ensure_ascii=False)


def test_a_chart_too_big_for_a_teams_card_is_drawn_smaller_then_left_out() -> None:
    """Teams refuses cards over 28 KB: the picture is redrawn smaller, and a card that still
    would not fit goes out with the numbers only and says how to get the picture."""
    from bot.adapters.teams.reports import fitted, monthly_card, sizes
    from bot.reports.charts import TINY
    from bot.reports.service import ReportFiles

    numbers = b"month,section,item,value\n2026-11,cases,received,6\n"

    def files(kb: int) -> ReportFiles:
        return ReportFiles("2026-11", PNG + b"\0" * kb * 1024, "alt", numbers, "t")

    big = {sizes()[0]: 30, TINY: 10}  # the first size does not fit, the smaller one does
    card, size = fitted(
        lambda s: monthly_card(files(big[s]) if s else None, numbers, "2026-11", "en")
    )
    assert size == TINY and len(images(card)) == 1
    check_card(card, "smaller chart")
    card, size = fitted(lambda s: monthly_card(files(40) if s else None, numbers, "2026-11", "en"))
    assert size is None and images(card) == []
    check_card(card, "no chart")
    assert "--format png" in json.dumps(card) and facts(card) == {("cases", "received"): "6"}


async def results_world(bot: TeamsBot, clock: FakeClock) -> None:
    """One exercise posted and answered by five colleagues: something to chart."""
    from tests.test_exercises import SHANGHAI_MON_0900

    await command(bot, "exercise weekly mon 09:00 fri 16:00 Asia/Shanghai")
    clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()
    await eventually(lambda: len(channel_posts(bot)) == 1)
    posted = channel_posts(bot)[0]
    for i, option in enumerate("bbbac"):
        await answer(bot, posted.card, option, f"aad-staff-{i}", f"2026-12-07T01:0{i}:00Z")


async def in_the_channel(bot: TeamsBot, words: str, aad: str) -> str:
    """`@EthicsBot <words>` in the channel; the text of the bot's answer in that thread."""
    from tests.fakes.teams_connector import texts
    from tests.test_teams_exercises import CHANNEL, in_channel

    def thread() -> list[Posted]:
        return [p for p in bot.fake.posted if p.conversation.startswith(CHANNEL + ";messageid=")]

    before = len(thread())
    assert (await bot.post(in_channel(bot, words, aad))).status in (200, 202)
    await eventually(lambda: len(thread()) > before)
    return texts(thread()[before].card)


def personal_cards(bot: TeamsBot, aad: str) -> list[dict[str, Any]]:
    return [p.card for p in bot.fake.posted if p.conversation == f"a:personal-{aad}" and p.card]


async def test_a_trainer_gets_exercise_results_in_the_personal_chat_never_the_channel(
    world: tuple[TeamsBot, FakeClock],
) -> None:
    from tests.test_teams_exercises import TRAINER

    bot, clock = world
    await results_world(bot, clock)
    # no personal chat known yet: the channel hears how to get them, and sees no results
    said = await in_the_channel(bot, "exercise results", TRAINER)
    assert "personal chat" in said and personal_cards(bot, TRAINER) == []
    card = await bot.say("exercise results", aad=TRAINER)
    check_card(card, "exercise results")
    (img,) = images(card)
    assert decoded(img, "teams-exercise-results-en.png").startswith(PNG)
    assert "answer" in img["altText"]
    assert "Exercise results, last 12 weeks" in card["body"][0]["text"]
    numbers = bot.services.reports.exercise_results(f"teams:{TRAINER}").csv  # type: ignore[union-attr]
    rows = list(csv.reader(io.StringIO(numbers.decode())))
    shown = [[f["value"] for f in b["facts"]] for b in card["body"] if b["type"] == "FactSet"]
    assert rows[1:] and shown == [r[2:] for r in rows[1:]]  # the CSV's numbers, cell for cell
    assert shown[0][0] == "5"  # the five answers
    # the personal chat is known now: from the channel, the card goes there, once
    before = len(personal_cards(bot, TRAINER))
    said = await in_the_channel(bot, "exercise results", TRAINER)
    assert "sent to your personal chat" in said
    await eventually(lambda: len(personal_cards(bot, TRAINER)) == before + 1)
    check_card(personal_cards(bot, TRAINER)[-1], "exercise results from the channel")
    elsewhere = [p for p in bot.fake.posted if p.conversation != f"a:personal-{TRAINER}"]
    assert elsewhere and all(images(p.card) == [] for p in elsewhere if p.card)  # never a channel


async def test_exercise_results_are_refused_to_a_non_trainer_in_en_and_zh(
    world: tuple[TeamsBot, FakeClock],
) -> None:
    bot, clock = world
    await results_world(bot, clock)
    said = await in_the_channel(bot, "exercise results", "aad-staff-1")
    assert "Only trainers" in said
    card = await bot.say("exercise results", aad="aad-colleague-zh", locale="zh-CN")
    assert "只有培训师" in json.dumps(card, ensure_ascii=False) and images(card) == []
    assert personal_cards(bot, "aad-staff-1") == []
    from sqlalchemy import select

    from bot.storage.tables import AuditRow

    with bot.services.db.read() as s:
        refused = s.scalars(select(AuditRow).where(AuditRow.action == "exercise.results")).all()
    assert [r.result for r in refused] == ["refused", "refused"]
