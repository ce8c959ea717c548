"""A late answer from Teams for a case card, racing another attempt's store, on PostgreSQL
with two instances. The first attempt's POST times out (Teams took it, its answer is slow);
another attempt posts the card again (visibly marked as a repeat) and stores its id; the
first attempt's late answer then arrives. Exactly one id may be stored, the one stored
first: the late one must not overwrite it, even when the two stores run at the same moment
(here made certain by holding the case row while both wait for it). Otherwise the desk's
later updates go to a card other than the one the outbox reported delivered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.teams import case_cards as CC
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.conftest import FIXTURE_CONTENT, PG_OK
from tests.fakes.teams_connector import FakeConnector, Fault, TeamsBot, by_verb, teams_env
from tests.harness import eventually, put_back
from tests.serving import pg_database, pg_url
from tests.test_cases import FakeClock
from tests.test_teams_cases import COMPLY, DESK, OFFICER, add_to_compliance_channel, report

pytestmark = pytest.mark.skipif(not PG_OK, reason="PostgreSQL not reachable on 127.0.0.1:5432")

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_a_late_answer_never_replaces_the_card_another_attempt_stored() -> None:
    fake = await FakeConnector().start()
    clock = FakeClock(T0)
    with pg_database() as name:
        url = pg_url(name)
        env = teams_env(
            url,
            FIXTURE_CONTENT,
            **DESK,
            ETHICSBOT_DISPATCH_INTERVAL="0.05",
            ETHICSBOT_TEAMS_TIMEOUT="2",
            ETHICSBOT_TEAMS_LATE_WINDOW="15",
        )
        a = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
        b = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
        engine = create_engine(url)

        def waiting() -> int:
            with engine.connect() as c:
                q = "SELECT count(*) FROM pg_stat_activity WHERE datname = :n"
                q += " AND wait_event_type = 'Lock'"
                return int(c.execute(text(q), {"n": name}).scalar() or 0)

        async def until_waiting(n: int) -> None:
            for _ in range(400):
                if await asyncio.to_thread(waiting) >= n:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"never {n} waiting for the case row")

        try:
            await add_to_compliance_channel(a)
            # the report form in the personal chat goes through as usual (act-1); the card's
            # first attempt: Teams takes it (act-2) but answers after 5 s, past the 2 s
            # time-out; the second attempt: taken (act-3), answered in 1 s
            fake.fault(Fault(), Fault(accept=True, delay=5.0), Fault(accept=True, delay=1.0))
            await report(a, "aad-reporter-5", mode="named", narrative="a late card")
            await fake.wait_for(2)
            await eventually(lambda: put_back(a.services, "case_card"), timeout=10)
            clock.now += timedelta(hours=1)  # past the hold-back: the row is due again
            for bot in (a, b):
                bot.services.signals.notify()
            await fake.wait_for(3)  # the repeat is in the channel; its answer is 1 s away
            posts = [p for p in fake.posted if p.method == "POST" and p.conversation == COMPLY]
            assert len(posts) == 2

            # hold the case row: the repeat's store waits for it, then the late answer's
            held = await asyncio.to_thread(engine.connect)
            lock = held.begin()
            await asyncio.to_thread(held.execute, text("SELECT id FROM cases FOR UPDATE"))
            await until_waiting(1)  # the repeat's store, first in line
            await until_waiting(2)  # the late answer's, behind it
            await asyncio.to_thread(lock.rollback)
            await asyncio.to_thread(held.close)

            def stored() -> str:
                with a.services.db.read() as s:
                    return str(s.execute(text("SELECT card FROM cases")).scalar())

            await eventually(lambda: '"act-3"' in stored() or '"act-2"' in stored())
            await asyncio.sleep(1.0)  # both stores have run by now
            card = stored()
            # the desk acknowledges: the update goes to the card that is stored
            desk = posts[1].card
            n = len(fake.posted)
            await a.press(by_verb(desk, CC.V_ACK)[0], aad=OFFICER, conversation=COMPLY)
            await eventually(lambda: any(p.method == "PUT" for p in fake.posted[n:]))
            put = next(p for p in fake.posted[n:] if p.method == "PUT")
        finally:
            await a.stop()
            await b.stop()
            await fake.stop()
            engine.dispose()
    assert '"act-3"' in card and '"act-2"' not in card  # the first store stays
    assert put.activity_id == "act-3"
