"""The trainers' `exercise` command, both kinds of schedule through one path
(bot/exercises/commands.py), through the real server and a fake Slack: `once` with and
without a time zone, `weekly` beside it, both listed and refused alike."""

from __future__ import annotations

from sqlalchemy import text

from tests.fakes.signing import command_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import start_bot
from tests.test_cases import FAST


async def test_once_and_weekly_are_scheduled_listed_and_refused_alike(
    fake: FakeSlack, sqlite_url: str
) -> None:
    bot = await start_bot(sqlite_url, fake, **FAST)

    async def say(words: str) -> str:
        r = await bot.post(command_body(f"exercise {words}", user="UTRAINER"))
        assert r.status == 200
        return str(r.json()["text"])

    try:
        once = await say("once ex-mini-2 2026-12-08T09:00 2026-12-10T16:00 UTC")
        assert once.startswith("Exercise ex-mini-2 `")
        assert once.endswith("scheduled here: 2026-12-08T09:00 → 2026-12-10T16:00 (UTC).")
        plain = await say("once ex-mini-3 2026-12-08T09:00 2026-12-10T16:00")
        assert plain.endswith("→ 2026-12-10T16:00 (Asia/Shanghai).")  # the default zone
        weekly = await say("weekly tue 10:00 thu 15:00")
        assert weekly.startswith("Weekly rotation `")
        assert weekly.endswith("scheduled here: tue 10:00 → thu 15:00 (Asia/Shanghai).")
        listed = await say("list")
        assert len(listed.splitlines()) == 3
        assert "ex-mini-2 · 2026-12-08T09:00 → 2026-12-10T16:00 (UTC)" in listed
        assert "weekly rotation · tue 10:00 → thu 15:00 (Asia/Shanghai)" in listed
        unknown = await say("once ex-nope 2026-12-08T09:00 2026-12-10T16:00")
        backwards = await say("once ex-mini-1 2026-12-10T16:00 2026-12-08T09:00")
        same = await say("weekly mon 09:00 mon 09:00")
        assert "ex-nope" in unknown and "scheduled" not in unknown
        assert "after the post" in backwards and "after the post" in same
        short = await say("once ex-mini-1 2026-12-08T09:00")  # no reveal: the help
        assert "scheduled" not in short
        with bot.services.db.tx() as s:
            rows = s.execute(
                text("SELECT kind, exercise_id, tz FROM exercise_schedules ORDER BY created_at")
            ).all()
    finally:
        await bot.stop()
    assert [tuple(r) for r in rows] == [
        ("once", "ex-mini-2", "UTC"),
        ("once", "ex-mini-3", "Asia/Shanghai"),
        ("weekly", None, "Asia/Shanghai"),
    ]
