"""The neutral delivery seam: rows carry their platform, each worker takes only its own,
waiting rows are logged once, and old Slack-only databases keep their rows."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Job, Kind
from bot.delivery.worker import NotYet, Retry, Worker
from bot.storage.db import _alembic_config, make_engine
from tests.conftest import settings_env


def _services(db_url: str) -> Services:
    return bootstrap(Settings.from_env(settings_env(db_url)))


def _enqueue(s: Services, platform: str, kind: Kind = Kind.CARD_UPDATE) -> int:
    with s.db.tx() as tx:
        return outbox.enqueue(tx, platform=platform, kind=kind, case_id="c1", now=s.clock()).id


def test_a_worker_claims_only_its_own_platforms_rows(db_url: str) -> None:
    s = _services(db_url)
    slack_row, teams_row = _enqueue(s, "slack"), _enqueue(s, "teams")
    assert [j.id for j in outbox.claim(s.db, "teams", s.clock())] == [teams_row]
    assert [j.id for j in outbox.claim(s.db, "slack", s.clock())] == [slack_row]
    assert outbox.claim(s.db, "teams", s.clock()) == []  # leased, and Slack's is not its


def test_a_row_nobody_could_deliver_is_refused_when_written(db_url: str) -> None:
    s = _services(db_url)
    with pytest.raises(ValueError), s.db.tx() as tx:
        outbox.enqueue(tx, platform="", kind=Kind.CARD_UPDATE, case_id="c1", now=s.clock())
    with pytest.raises(ValueError), s.db.tx() as tx:  # a reminder without its clock
        outbox.enqueue(tx, platform="slack", kind=Kind.REMINDER, case_id="c1", now=s.clock())
    with pytest.raises(ValueError), s.db.tx() as tx:
        outbox.enqueue(tx, platform="slack", kind="no_such_kind", case_id="c1", now=s.clock())  # type: ignore[arg-type]
    with s.db.read() as tx:
        assert tx.execute(text("SELECT COUNT(*) FROM outbox")).scalar() == 0


class _Waiting:
    """A platform whose desk is not configured yet, then fails once, then delivers."""

    platform = "teams"

    def __init__(self) -> None:
        self.calls = 0

    async def deliver(self, job: Job) -> dict[str, str]:
        self.calls += 1
        if self.calls <= 2:
            raise NotYet("no compliance conversation configured (COMPLIANCE_TEAMS_CONVERSATION)")
        if self.calls == 3:
            raise Retry("teams 429", timedelta(seconds=7))
        return {"sent": "yes"}


async def test_waiting_rows_are_logged_once_then_delivered(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = _services(sqlite_url)
    row = _enqueue(s, "teams")
    other = _enqueue(s, "slack")
    deliverer = _Waiting()
    worker = Worker(s, deliverer)
    caplog.set_level(logging.DEBUG, logger="bot.delivery.worker")
    clock = s.clock

    for i in range(4):  # each round, move past the row's next attempt
        s.clock = lambda i=i: clock() + timedelta(minutes=10 * (i + 1))  # type: ignore[misc]
        assert await worker.tick() == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert ["waiting" in r.getMessage() for r in warnings] == [True, False]  # once, then 429
    assert "COMPLIANCE_TEAMS_CONVERSATION" in warnings[0].getMessage()
    with s.db.read() as tx:
        rows = dict(tx.execute(text("SELECT id, status FROM outbox")).all())
    assert rows == {row: "sent", other: "pending"}  # the Slack row was never touched
    assert deliverer.calls == 4


class _Slow:
    """A delivery that outlasts its lease several times over (a chart render, a slow API)."""

    platform = "teams"

    def __init__(self, seconds: float) -> None:
        self.seconds, self.calls = seconds, 0

    async def deliver(self, job: Job) -> dict[str, str]:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        return {"sent": "yes"}


async def test_a_delivery_longer_than_its_lease_is_not_taken_over(db_url: str) -> None:
    """Two instances on one database: while the first is still delivering, its lease is
    renewed, so the second never claims the row and the post happens once."""
    first, second = _services(db_url), _services(db_url)
    row = _enqueue(first, "teams")
    lease = timedelta(seconds=0.3)
    slow, rival = _Slow(1.5), _Slow(0)
    a, b = Worker(first, slow, lease=lease), Worker(second, rival, lease=lease)
    busy = asyncio.create_task(a.tick())
    for _ in range(15):  # the other instance keeps polling through five lease lengths
        await asyncio.sleep(0.1)
        await b.tick()
    assert await busy == 1
    assert (slow.calls, rival.calls) == (1, 0)
    with first.db.read() as tx:
        got = tx.execute(text("SELECT status, attempts FROM outbox WHERE id = :i"), {"i": row})
        assert got.one() == ("sent", 1)


def test_a_claim_taken_over_after_a_crash_can_no_longer_be_renewed(db_url: str) -> None:
    s = _services(db_url)
    _enqueue(s, "teams")
    (crashed,) = outbox.claim(s.db, "teams", s.clock(), lease=timedelta(seconds=1))
    later = s.clock() + timedelta(seconds=5)  # the crashed instance's lease ran out
    (taken,) = outbox.claim(s.db, "teams", later)
    assert taken.attempts == crashed.attempts + 1
    assert outbox.renew(s.db, crashed, later) is False  # the old claim is over
    assert outbox.renew(s.db, taken, later) is True


async def test_a_services_commit_wakes_only_its_platforms_worker(sqlite_url: str) -> None:
    s = _services(sqlite_url)
    woke: list[str] = []
    s.signals.register("slack", lambda: woke.append("slack"))
    s.signals.register("teams", lambda: woke.append("teams"))
    s.signals.notify("teams")
    assert woke == ["teams"]
    s.signals.notify()
    assert sorted(woke) == ["slack", "teams", "teams"]
    await asyncio.sleep(0)


def test_rows_from_before_platforms_are_slacks(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
        conn.execute(
            text(
                "INSERT INTO outbox (kind, case_id, payload, status, attempts, next_attempt_at,"
                " created_at) VALUES ('card_update', 'c1', '{}', 'pending', 0,"
                " '2026-12-01 09:00:00', '2026-12-01 09:00:00')"
            )
        )
    engine.dispose()
    s = _services(db_url)  # migrates to head
    assert [j.kind for j in outbox.claim(s.db, "slack", s.clock())] == [Kind.CARD_UPDATE]
