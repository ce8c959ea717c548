"""Outbound to Teams over real HTTP to the fake connector: retries of 429 (Retry-After), 5xx
and time-outs, then `Retry` for the outbox; proactive posts from stored conversation
references; Teams' worker leaves rows it cannot deliver yet waiting, and never takes Slack's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.adapters.teams import cards as C
from bot.adapters.teams.connector import ConnectorClient, ConnectorError, Unanswered
from bot.adapters.teams.delivery import TeamsDeliverer
from bot.adapters.teams.references import ConversationRef, ConversationStore
from bot.bootstrap import bootstrap
from bot.catalog import REPO_ROOT
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.worker import NotYet, Retry, Worker
from bot.storage.tables import OutboxRow
from tests.fakes.teams_connector import FakeConnector, Fault, teams_env

CARD = C.note_card("hello", "en")


@pytest.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    f = await FakeConnector().start()
    yield f
    await f.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def client(http: aiohttp.ClientSession, **kw: float) -> ConnectorClient:
    return ConnectorClient(http, base_delay=0.01, **kw)  # type: ignore[arg-type]


async def test_429_is_retried_after_retry_after_then_delivered_once(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    fake.fault(Fault(status=429, retry_after="0"), Fault(status=503))
    activity_id = await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert fake.attempts == 3 and len(fake.posted) == 1
    assert fake.posted[0].conversation == "conv-1" and activity_id == "act-1"


async def test_a_long_retry_after_goes_back_to_the_outbox_with_that_wait(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    fake.fault(Fault(status=429, retry_after="120"))
    with pytest.raises(Retry) as caught:
        await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert caught.value.after == timedelta(seconds=120)
    assert fake.attempts == 1 and fake.posted == []  # not slept through inline


async def test_503_is_bounded_then_retry_and_honours_its_retry_after(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    fake.fault(Fault(status=503), Fault(status=503), Fault(status=503))
    with pytest.raises(Retry) as caught:
        await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert not isinstance(caught.value, Unanswered)  # a definite no: nothing was posted
    assert caught.value.after is None and "503" in caught.value.reason
    assert fake.attempts == 3 and fake.posted == []
    fake.fault(Fault(status=503, retry_after="120"))
    with pytest.raises(Retry) as caught:
        await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert caught.value.after == timedelta(seconds=120)  # the outbox waits what Teams asked
    assert fake.attempts == 4


async def test_a_post_that_may_have_arrived_is_not_retried_inline(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    # a 500 can follow a created activity: one attempt, and the caller's marker must stay
    fake.fault(Fault(status=500))
    with pytest.raises(Unanswered):
        await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert fake.attempts == 1
    # Teams took the post but answered late: posted once, the late id reaches the caller
    heard: asyncio.Queue[str] = asyncio.Queue()
    fake.fault(Fault(accept=True, delay=1.0))
    with pytest.raises(Unanswered) as caught:
        await client(http, timeout=0.2, late_window=5).send(
            fake.service_url, "conv-1", C.message(CARD), late=heard.put
        )
    assert caught.value.after is not None and caught.value.after >= timedelta(seconds=5)
    assert await asyncio.wait_for(heard.get(), 10) == "act-1"
    assert len(fake.posted) == 1 and fake.attempts == 2


async def test_an_update_is_retried_on_anything(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    fake.fault(Fault(status=500), Fault(delay=1.0))
    c = client(http, timeout=0.2)
    assert await c.update(fake.service_url, "conv-1", "act-9", C.message(CARD)) == "act-9"
    assert fake.attempts == 3 and [p.method for p in fake.posted] == ["PUT"]


async def test_a_refusal_is_not_retried(fake: FakeConnector, http: aiohttp.ClientSession) -> None:
    fake.fault(Fault(status=403))
    with pytest.raises(ConnectorError):
        await client(http).send(fake.service_url, "conv-1", C.message(CARD))
    assert fake.attempts == 1


async def test_reply_and_update_reach_the_connector(
    fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    c = client(http)
    first = await c.send(fake.service_url, "conv-1", C.message(CARD))
    await c.reply(fake.service_url, "conv-1", first, C.message(C.note_card("in thread", "en")))
    await c.update(fake.service_url, "conv-1", first, C.message(C.note_card("changed", "en")))
    posted = await fake.wait_for(3)
    assert [(p.method, p.activity_id) for p in posted] == [
        ("POST", ""),
        ("POST", first),
        ("PUT", first),
    ]
    assert posted[1].body["replyToId"] == first
    assert posted[2].card["body"][1]["text"] == "changed"


async def test_proactive_posts_need_a_stored_reference(
    sqlite_url: str, fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    services = bootstrap(Settings.from_env(teams_env(sqlite_url, REPO_ROOT)))
    store = ConversationStore(services.db, services.clock)
    deliverer = TeamsDeliverer(services, client(http), store)
    with pytest.raises(NotYet):
        await deliverer.post("19:channel@thread.tacv2", CARD)
    store.remember(ConversationRef("19:channel@thread.tacv2", fake.service_url, kind="channel"))
    where = await deliverer.post("19:channel@thread.tacv2", CARD, "summary")
    assert where == {"conversation": "19:channel@thread.tacv2", "activity": "act-1"}
    await deliverer.update(where["conversation"], where["activity"], C.note_card("v2", "en"))
    posted = await fake.wait_for(2)
    assert posted[0].conversation == "19:channel@thread.tacv2" and posted[1].method == "PUT"


async def test_the_teams_worker_waits_on_kinds_it_cannot_deliver_and_leaves_slack_rows(
    sqlite_url: str, fake: FakeConnector, http: aiohttp.ClientSession
) -> None:
    services = bootstrap(Settings.from_env(teams_env(sqlite_url, REPO_ROOT)))
    now = services.clock()
    with services.db.tx() as s:
        outbox.enqueue(
            s,
            platform="teams",
            kind=Kind.CASE_CARD,
            case_id="case-1",
            now=now,
            payload={"destination": "desk"},
        )
        outbox.enqueue(
            s,
            platform="slack",
            kind=Kind.CASE_CARD,
            case_id="case-1",
            now=now,
            payload={"destination": "desk"},
        )
    store = ConversationStore(services.db, services.clock)
    worker = Worker(services, TeamsDeliverer(services, client(http), store))
    assert await worker.tick() == 1
    with services.db.read() as s:
        rows = {r.platform: r for r in s.scalars(select(OutboxRow))}
    # teamsdesk: case_card has a Teams handler now; with no desk configured the row waits
    # and says which setting is missing
    assert rows["teams"].status == "pending"
    assert "COMPLIANCE_TEAMS_CONVERSATION" in str(rows["teams"].last_error)
    assert rows["slack"].attempts == 0 and rows["slack"].status == "pending"
    assert fake.posted == []
    await asyncio.sleep(0)


async def test_conversation_references_are_upserted(db_url: str) -> None:
    services = bootstrap(Settings.from_env(teams_env(db_url, REPO_ROOT)))
    store = ConversationStore(services.db, services.clock)
    store.remember(ConversationRef("a:1", "https://old.example/", "t", "personal", "", "28:b"))
    store.remember(ConversationRef("a:1", "https://new.example/", "t", "personal", "", "28:b"))
    ref = store.get("a:1")
    assert ref is not None and ref.service_url == "https://new.example/"
    assert store.get("a:2") is None
    services.db.dispose()
