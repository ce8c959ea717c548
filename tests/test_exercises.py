"""Weekly exercises over simulated weeks, through the real server and a fake Slack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.conftest import settings_env
from tests.fakes.signing import command_body, interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import drained, eventually, start_bot
from tests.test_cases import FAST, FakeClock

SHANGHAI_MON_0900 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Shanghai


def posts(fake: FakeSlack) -> list[Any]:
    return [
        c
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == "CTRAIN" and not c.args.get("thread_ts")
    ]


def reveals(fake: FakeSlack) -> list[Any]:
    return [
        c
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == "CTRAIN" and c.args.get("thread_ts")
    ]


def answer_click(fake: FakeSlack, post: Any, index: int, user: str) -> str:
    button = [e for b in post.args["blocks"] if b.get("accessory") for e in [b["accessory"]]][index]
    return interactive_body(
        {
            "type": "block_actions",
            "user": {"id": user},
            "team": {"id": "T1"},
            "channel": {"id": "CTRAIN"},
            "container": {"type": "message"},
            "message": {"ts": "1"},
            "trigger_id": "t",
            "response_url": fake.url.replace("/api/", f"/response/{user}"),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "value": button["value"],
                    "block_id": "b",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
    )


async def test_three_weeks_of_rotation_on_two_instances(fake: FakeSlack, db_url: str) -> None:
    clock = FakeClock(SHANGHAI_MON_0900 - timedelta(days=1))
    url = db_url  # SQLite, and PostgreSQL where it runs: two processes, one database
    a = await start_bot(url, fake, clock=clock, **FAST)
    b = await start_bot(url, fake, clock=clock, **FAST)  # a second process on the same database
    try:
        r = await a.post(
            command_body(
                "exercise weekly mon 09:00 fri 16:00 Asia/Shanghai", user="UTRAINER"
            ).replace("C1", "CTRAIN")
        )
        assert "Weekly rotation" in r.json()["text"]
        confirmed = 0
        for week in range(3):
            clock.now = SHANGHAI_MON_0900 + timedelta(weeks=week, seconds=30)
            for bot in (a, b, a, b):  # both schedulers race for the same slot
                bot.services.exercises.tick()
            await eventually(lambda w=week: len(posts(fake)) == w + 1)
            post = posts(fake)[-1]
            assert "Posted late" not in str(post.args["blocks"])
            voters = [f"UV{i}" for i in range(6 if week != 1 else 3)]
            for i, user in enumerate(voters):
                await (a if i % 2 else b).post(answer_click(fake, post, i % 3, user))
            await a.post(answer_click(fake, post, 1, voters[0]))  # a changed mind
            confirmed += len(voters) + 1  # every click gets its private confirmation
            await eventually(lambda n=confirmed: len(fake.of("response_url")) == n)
            clock.now = SHANGHAI_MON_0900 + timedelta(weeks=week, days=4, hours=7, seconds=30)
            for bot in (b, a, b):
                bot.services.exercises.tick()
            await eventually(lambda w=week: len(reveals(fake)) == w + 1)
            # the reveal's chart is uploaded after the reveal: let it finish before the
            # clock jumps a week (see tests.harness.drained)
            await eventually(lambda: drained(a.services), timeout=20)

        # every post is closed (an update may be repeated when a lease runs out; it is idempotent)
        def all_closed() -> bool:
            updated = {c.args["ts"] for c in fake.of("chat.update")}
            return all(
                m["ts"] in updated for m in fake.messages["CTRAIN"] if not m.get("thread_ts")
            )

        await eventually(all_closed)
        await a.post(answer_click(fake, posts(fake)[0], 0, "ULATE"))
        await eventually(lambda: "closed" in str(fake.of("response_url")[-1].args))
    finally:
        await a.stop()
        await b.stop()
    home = await _home_of(fake, url, "UTRAINER")
    assert "Weekly exercises" in home and "6 answers" in home and "3 answers" in home
    titles = [p.args["text"] for p in posts(fake)]
    assert len(set(titles)) == 3 and len(posts(fake)) == 3
    first_reveal = str(reveals(fake)[0].args["blocks"])
    assert "6* 位同事作答" in first_reveal and "Recommended: *B*" in first_reveal
    assert "`/ethics mini`" in first_reveal and "T-1" in first_reveal
    assert "Fewer than 5 answers" in str(reveals(fake)[1].args["blocks"])
    charts = fake.uploaded("CTRAIN")  # a picture only where 5 or more answered: weeks 1 and 3
    assert len(charts) == 2 and all(c["data"].startswith(b"\x89PNG") for c in charts)
    assert [c["message"]["thread_ts"] for c in charts] == [
        reveals(fake)[0].args["thread_ts"],
        reveals(fake)[2].args["thread_ts"],
    ]
    assert all("6" in c["alt_txt"] and "推荐" in c["alt_txt"] for c in charts)
    confirmations = [c.args for c in fake.of("response_url")]
    assert all(c["response_type"] == "ephemeral" for c in confirmations)
    env = {**os.environ, **settings_env(url)}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "exercise", "results", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    results = json.loads(out)
    assert [r["answers"] for r in results] == [6, 3, 6]
    assert results[0]["distribution"] == {"a": 1, "b": 3, "c": 2}
    assert results[1]["distribution"] is None  # under five: no breakdown
    assert "UV" not in out


async def test_only_trainers_schedule_and_cancel(fake: FakeSlack, sqlite_url: str) -> None:
    bot = await start_bot(sqlite_url, fake, **FAST)
    try:
        r = await bot.post(command_body("exercise weekly mon 09:00 fri 16:00", user="U1"))
        assert "Only trainers" in r.json()["text"]
        r = await bot.post(command_body("exercise weekly mon 09:00 fri 16:00", user="UTRAINER"))
        sched_id = r.json()["text"].split("`")[1]
        r = await bot.post(command_body(f"exercise cancel {sched_id}", user="U1"))
        assert "Only trainers" in r.json()["text"]
        r = await bot.post(command_body("exercise weekly mon 25:00 fri 16:00", user="UTRAINER"))
        assert "not a weekly time" in r.json()["text"]
        r = await bot.post(command_body(f"exercise cancel {sched_id}", user="UTRAINER"))
        assert "cancelled" in r.json()["text"]
        with bot.services.db.tx() as s:
            rows = s.execute(text("SELECT action, result FROM audit_log ORDER BY seq")).all()
    finally:
        await bot.stop()
    assert [tuple(r) for r in rows] == [
        ("exercise.schedule", "refused"),
        ("exercise.schedule", "ok"),
        ("exercise.cancel", "refused"),
        ("exercise.cancel", "ok"),
    ]


async def test_a_missed_post_goes_out_late_once_and_says_so(
    fake: FakeSlack, sqlite_url: str
) -> None:
    clock = FakeClock(SHANGHAI_MON_0900 - timedelta(days=2))
    bot = await start_bot(sqlite_url, fake, clock=clock, **FAST)
    try:
        bot.services.exercises.schedule(
            "slack:UTRAINER",
            platform="slack",
            channel="CTRAIN",
            kind="weekly",
            post="mon 09:00",
            reveal="fri 16:00",
        )
        clock.now = SHANGHAI_MON_0900 + timedelta(days=1, hours=3)  # the server was down
        bot.services.exercises.tick()
        bot.services.exercises.tick()
        await eventually(lambda: len(posts(fake)) == 1)
        assert "Posted late" in str(posts(fake)[0].args["blocks"])
        clock.now += timedelta(hours=1)
        bot.services.exercises.tick()
    finally:
        await bot.stop()
    assert len(posts(fake)) == 1


async def _home_of(fake: FakeSlack, url: str, user: str) -> str:
    """What `user` sees on App Home (a fresh instance on the same database)."""
    bot = await start_bot(url, fake)
    try:
        n = len(fake.of("views.publish"))
        ev = {"type": "app_home_opened", "user": user, "channel": "D9", "tab": "home"}
        await bot.event(ev, f"EvHome-{user}")
        await eventually(lambda: len(fake.of("views.publish")) == n + 1)
        return str(fake.of("views.publish")[-1].args["view"])
    finally:
        await bot.stop()
