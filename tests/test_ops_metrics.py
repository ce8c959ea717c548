"""`/metrics` as Prometheus scrapes it, and the escalation that waits for a missing desk
channel: said at start, logged when it waits, counted in the outbox gauges."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.fakes.signing import command_body, interactive_body, signed_headers
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, eventually, slack_env, start_bot
from tests.serving import Serve
from tests.test_cases import FAST, FakeClock, card_posts, report_submission, walk_to_required
from tests.test_crash import RemoteBot


async def scrape(bot: SlackBot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels."""
    r = await bot.get("/metrics")
    assert r.status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.body)
        for s in family.samples
    }


async def test_metrics_count_requests_and_read_the_outbox_from_the_database(
    fake: FakeSlack, db_url: str
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    # no desk channel: the card waits in the outbox, where the gauges must see it
    bot = await start_bot(db_url, fake, clock=clock, COMPLIANCE_SLACK_CHANNEL="", **FAST)
    try:
        first = await scrape(bot)
        assert first[("ethicsbot_database_up", ())] == 1
        assert ("ethicsbot_outbox_pending", (("platform", "slack"),)) not in first
        view = await walk_to_required(bot, fake, "U8")  # 6 signed requests
        r = await bot.post(interactive_body(report_submission(view, "named", user="U8")))
        assert r.status == 200
        body = command_body("help")
        forged = await bot.post(body, headers=signed_headers(body, secret="not-ours"))
        assert forged.status == 401
        clock.now += timedelta(seconds=90)
        m = await scrape(bot)
        ok = (
            "ethicsbot_http_requests_total",
            (("method", "POST"), ("route", "/slack/events"), ("status", "200")),
        )
        assert m[ok] == 7
        assert (
            m[
                (
                    "ethicsbot_http_requests_total",
                    (("method", "POST"), ("route", "/slack/events"), ("status", "401")),
                )
            ]
            == 1
        )
        assert (
            m[("ethicsbot_http_request_duration_seconds_count", (("route", "/slack/events"),))] == 8
        )
        assert m[("ethicsbot_outbox_pending", (("platform", "slack"),))] == 1
        assert m[("ethicsbot_outbox_oldest_pending_age_seconds", (("platform", "slack"),))] == 90
        assert m[("ethicsbot_cases_overdue", (("clock", "acknowledge"),))] == 0
        # the writer queue is SQLite's alone (PostgreSQL locks rows, not the database)
        assert (("ethicsbot_sqlite_write_waits_total", ()) in m) == db_url.startswith("sqlite")
        # medium severity: acknowledge within 3 days; at half of it the first reminder is due
        clock.now += timedelta(days=2)
        assert bot.services.cases.remind() == 1
        m = await scrape(bot)
        assert m[("ethicsbot_reminders_due", (("platform", "slack"),))] == 1
        assert m[("ethicsbot_outbox_pending", (("platform", "slack"),))] == 2
        clock.now += timedelta(days=1, hours=1)
        m = await scrape(bot)
        assert m[("ethicsbot_cases_overdue", (("clock", "acknowledge"),))] == 1
        assert card_posts(fake) == []
    finally:
        await bot.stop()


async def test_a_missing_desk_channel_is_said_at_start_and_the_waiting_card_is_logged(
    fake: FakeSlack, tmp_path: Path
) -> None:
    env = slack_env(f"sqlite:///{tmp_path / 'w.db'}", fake.url, COMPLIANCE_SLACK_CHANNEL="", **FAST)
    server = Serve(env, tmp_path / "stderr.log")
    url = await server.start()
    bot = RemoteBot(url, fake)
    waiting = "waiting: no compliance destination configured (COMPLIANCE_SLACK_CHANNEL)"
    try:
        assert "COMPLIANCE_SLACK_CHANNEL is not set" in server.text()
        view = await walk_to_required(bot, fake, "U1")
        r = await bot.post(interactive_body(report_submission(view, "named", user="U1")))
        assert r.status == 200
        await eventually(lambda: waiting in server.text(), timeout=15)
        # retried every 2 s, but logged once at WARNING: no flood of identical lines
        await asyncio.sleep(4.5)
    finally:
        await bot.stop()
        server.stop()
    lines = [x for x in server.lines() if waiting in x["msg"]]
    assert len(lines) == 1 and lines[0]["level"] == "warning"
    assert card_posts(fake) == []


async def test_a_write_that_queues_for_sqlites_writer_is_counted_and_then_goes_through(
    fake: FakeSlack, sqlite_url: str
) -> None:
    """While another transaction of the process holds SQLite's one writer, a colleague's
    `/ethics mini` queues (counted in /metrics), and opens the walk the moment it is free."""
    bot = await start_bot(sqlite_url, fake, **FAST)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with bot.services.db.tx() as tx:
            tx.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    try:
        before = (await scrape(bot))[("ethicsbot_sqlite_write_waits_total", ())]
        holder.start()
        assert await asyncio.to_thread(holding.wait, 10)
        n_open = len(fake.of("views.open"))
        assert (await bot.command("mini", user="U1")).status == 200

        async def queued() -> bool:
            # the timers and the outbox worker may queue beside it
            return (await scrape(bot))[("ethicsbot_sqlite_write_waits_total", ())] >= before + 1

        for _ in range(100):
            if await queued():
                break
            await asyncio.sleep(0.05)
        assert await queued()
        assert len(fake.of("views.open")) == n_open  # still waiting for its turn
        release.set()
        view = (await fake.wait_for("views.open", n_open + 1))[-1].args["view"]
        assert view["callback_id"] == "eb.walk"
        after = await scrape(bot)
        assert after[("ethicsbot_sqlite_write_wait_seconds_total", ())] > 0
        assert after[("ethicsbot_sqlite_write_refused_total", ())] == 0
        # the command awaited its turn on the event loop: no other process held SQLite, so
        # nothing was handed to a worker thread
        assert after[("ethicsbot_sqlite_inline_offloaded_total", ())] == 0
    finally:
        release.set()
        if holder.ident is not None:
            holder.join(10)
        await bot.stop()
