"""Pictures in the channel: the monthly compliance report and the exercise reveal chart,
through the real server, the outbox and a fake Slack that speaks the file upload API."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from tests.fakes.slack_api import Failure, FakeSlack
from tests.harness import eventually, put_back, start_bot
from tests.test_cases import FAST, FakeClock

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_window_opens_on_the_first_working_day() -> None:
    from bot.reports.service import first_working_day

    # 1 November 2026 is a Sunday: the report on October goes out on Monday the 2nd
    assert first_working_day(2026, 11).isoformat() == "2026-11-02T09:00:00+08:00"
    assert first_working_day(2026, 12).isoformat() == "2026-12-01T09:00:00+08:00"


async def test_the_monthly_report_posts_once_with_two_instances(
    fake: FakeSlack, db_url: str
) -> None:
    clock = FakeClock(datetime(2026, 11, 10, 2, 0, tzinfo=UTC))
    a = await start_bot(db_url, fake, clock=clock, **FAST)
    b = await start_bot(db_url, fake, clock=clock, **FAST)  # a second process, same database
    try:
        for i, topic in enumerate(["honesty"] * 5 + ["confidentiality"]):
            a.services.cases.escalate(
                reporter_identity=f"slack:T1:UR{i}",
                mode="named",
                record=None,
                topic=topic,
                session_id=None,
                narrative="private words that must not reach the channel",
            )
        clock.now = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tue 1 Dec, 07:00 in Shanghai
        assert not a.services.reports.tick() and not b.services.reports.tick()
        # one upload fails on Slack's side: the retry must not post the report twice
        fake.failures["files.completeUploadExternal"] = Failure(status=500, remaining=1)
        clock.now = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
        queued = [bot.services.reports.tick() for bot in (a, b, a, b)]
        assert queued.count(True) == 1  # exactly one instance queued it
        await eventually(lambda: len(fake.of("files.completeUploadExternal!failed")) == 1)
        await eventually(lambda: put_back(a.services, "monthly_report"))
        clock.now += timedelta(minutes=6)  # past any back-off (at most 5 minutes, with jitter)
        await eventually(lambda: len(fake.uploaded("CCOMPLY")) == 2, timeout=30)
        await asyncio.sleep(1.5)  # leases of 1 s: time enough for a duplicate to show
        assert not a.services.reports.tick()  # a later tick the same month queues nothing
    finally:
        await a.stop()
        await b.stop()
    files = fake.uploaded("CCOMPLY")
    assert len(files) == 2 and files[0]["message"] is files[1]["message"]
    png, table = sorted(files, key=lambda f: f["name"].endswith(".csv"))
    assert png["data"].startswith(PNG) and png["name"].endswith(".png")
    assert "2026-11" in png["alt_txt"] or "November" in png["alt_txt"]
    assert "Compliance report for 2026-11" in files[0]["message"]["text"]
    rows = list(csv.reader(io.StringIO(table["data"].decode())))
    assert rows[0] == ["month", "section", "item", "value"]
    values = {(r[1], r[2]): r[3] for r in rows[1:]}
    assert all(r[0] == "2026-11" for r in rows[1:])
    assert values[("cases", "received")] == "6"
    assert values[("by_topic", "honesty")] == "5"
    assert values[("by_topic", "confidentiality")] == "fewer than 5"  # k >= 5: nobody traced
    everything = str(fake.calls) + str(fake.messages)
    assert "private words" not in everything and "UR0" not in everything


async def test_a_month_with_nothing_in_it_posts_no_report(fake: FakeSlack, sqlite_url: str) -> None:
    """A bank that installs EthicsBot mid-month is not greeted by a report of zeros."""
    clock = FakeClock(datetime(2026, 12, 1, 1, 30, tzinfo=UTC))  # report window is open
    bot = await start_bot(sqlite_url, fake, clock=clock, **FAST)
    try:
        assert not bot.services.reports.tick()
        assert not bot.services.reports.tick()
        await asyncio.sleep(0.5)
    finally:
        await bot.stop()
    assert fake.uploaded("CCOMPLY") == [] and not fake.of("files.getUploadURLExternal")


async def test_a_trainer_gets_the_twelve_week_results_chart_in_their_dm(
    fake: FakeSlack, sqlite_url: str
) -> None:
    """`/ethics exercise results`: trainers only; the chart and its CSV arrive in the
    trainer's DM (never the channel), with the same figures the CLI exports."""
    from tests.fakes.signing import command_body
    from tests.test_reports import NOW, seed_exercises

    bot = await start_bot(sqlite_url, fake, clock=FakeClock(NOW), **FAST)
    try:
        r = await bot.post(command_body("exercise results", user="UTRAINER"))
        assert "on their way" not in r.json()["text"]  # nothing posted yet: said so plainly
        await eventually(lambda: "No exercise was posted" in str(fake.messages.get("DUTRAINER")))
        seed_exercises(bot.services.db)
        r = await bot.post(command_body("exercise results", user="U1"))
        assert "Only trainers" in r.json()["text"]
        r = await bot.post(command_body("exercise results", user="UTRAINER"))
        assert "12 weeks" in r.json()["text"]
        await eventually(lambda: len(fake.uploaded("DUTRAINER")) == 2)
    finally:
        await bot.stop()
    png, table = sorted(fake.uploaded("DUTRAINER"), key=lambda f: f["name"].endswith(".csv"))
    assert png["data"].startswith(PNG) and "ex-mini-1" in png["alt_txt"]
    rows = list(csv.reader(io.StringIO(table["data"].decode())))
    assert [(r[0], r[1][:10], r[2], r[3]) for r in rows[1:]] == [
        ("ex-mini-1", "2026-10-05", "6", "0.667"),
        ("ex-mini-2", "2026-11-02", "fewer than 5", "fewer than 5"),
        ("ex-mini-3", "2026-11-30", "5", "0.6"),
    ]
    elsewhere = [m for ch, ms in fake.messages.items() if ch != "DUTRAINER" for m in ms]
    assert not any(m.get("files") for m in elsewhere)
