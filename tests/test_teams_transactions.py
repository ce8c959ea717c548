"""Teams arrivals in as few transactions as their guarantees allow, through the real server.

A typed start by someone new is at most two transactions (the arrival: reference, delivery
key, language; then the session), a step click exactly one (its delivery key, reference and
personal chat claimed and written in the step's own transaction), counted by a listener on
the engine. Fewer transactions must not cost a guarantee: a redelivered click (the same
activity id, one after the other or both at once) applies its step once and shows that one
step, a click on someone else's consultation is refused and recorded once, a reference whose
service URL changed is stored again, a redelivered message starts nothing twice. Runs on
SQLite and, when a server answers, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.storage.tables import (
    AuditRow,
    SeenEventRow,
    SessionRow,
    TeamsConversationRow,
    TeamsPersonalChatRow,
    UserPrefRow,
)
from tests.conftest import ROOT
from tests.fakes.teams_connector import (
    FakeConnector,
    TeamsBot,
    by_verb,
    click,
    message,
    teams_env,
    texts,
)

TREE = "confidentiality-caller-enquiry"


@dataclass
class Count:
    """Transactions begun and statements sent on one engine while `counting()` is open."""

    on: bool = False
    transactions: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def counted(engine: Engine, count: Count) -> Iterator[None]:
    def begin(_conn: Any) -> None:
        if count.on:
            count.transactions += 1

    def execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if count.on:
            count.statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", execute)
    try:
        yield
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", execute)


@contextmanager
def counting(count: Count) -> Iterator[Count]:
    count.on, count.transactions, count.statements = True, 0, []
    try:
        yield count
    finally:
        count.on = False


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@dataclass
class Counted:
    bot: TeamsBot
    count: Count


@pytest.fixture
async def counted_bot(db_url: str, connector: FakeConnector) -> AsyncIterator[Counted]:
    # no outbox worker: its polling would be counted with the activities
    settings = Settings.from_env(teams_env(db_url, ROOT, ETHICSBOT_DISPATCHER="0"))
    bot = await TeamsBot(bootstrap(settings), connector).start()
    count = Count()
    with counted(bot.services.db.engine, count):
        try:
            yield Counted(bot, count)
        finally:
            await bot.stop()
            bot.services.db.dispose()


def new_aad() -> str:
    return f"aad-{uuid.uuid4().hex[:12]}"


async def started(bot: TeamsBot, aad: str, locale: str = "en-US") -> dict[str, Any]:
    """The first step's card of a consultation `aad` started by typing the tree id."""
    return await bot.say(TREE, aad=aad, locale=locale)


def forward(card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The click that moves a step on (an answer with its text), and its inputs."""
    for verb in ("choose", "proceed"):
        if by_verb(card, verb):
            return by_verb(card, verb)[0], {}
    answer = by_verb(card, "answer")
    assert answer, texts(card)
    return answer[0], {"answer": "what I would say"}


def session_version(bot: TeamsBot, session_id: str) -> int:
    with bot.services.db.read() as s:
        row = s.get(SessionRow, session_id)
        assert row is not None
        return row.state_version


def refusals(bot: TeamsBot) -> int:
    with bot.services.db.read() as s:
        return int(
            s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.result == "refused"))
            or 0
        )


async def test_a_first_start_is_at_most_two_transactions(counted_bot: Counted) -> None:
    bot, count = counted_bot.bot, counted_bot.count
    aad = new_aad()
    with counting(count):
        card = await started(bot, aad, locale="zh-CN")
    assert "第 1 步" in texts(card), texts(card)  # in the person's Teams language
    assert count.transactions <= 2, (count.transactions, count.statements)
    assert len(count.statements) <= 5, count.statements
    # and everything the five transactions stored is still there
    with bot.services.db.read() as s:
        ref = s.get(TeamsConversationRow, f"a:personal-{aad}")
        assert ref is not None and ref.service_url == bot.fake.service_url
        assert s.scalar(select(func.count()).select_from(SeenEventRow)) == 1
        pref = s.scalars(select(UserPrefRow)).one()
        assert pref.lang == "zh" and not pref.chosen  # the locale, not a choice
        assert s.scalar(select(func.count()).select_from(SessionRow)) == 1
    # the stored language is the one used next time (no locale read again, no second row)
    again = await bot.say("help", aad=aad, locale="en-US")
    assert texts(again) != texts(await bot.say("help", aad=new_aad(), locale="en-US"))


async def test_a_step_click_is_one_transaction_and_keeps_the_personal_chat(
    counted_bot: Counted,
) -> None:
    bot, count = counted_bot.bot, counted_bot.count
    aad = new_aad()
    card = await started(bot, aad)
    choose = by_verb(card, "choose")
    assert choose, texts(card)
    with counting(count):
        answer = await bot.press(choose[0], aad=aad)
    step = answer.card
    assert "Step " in texts(step) and texts(step) != texts(card)
    assert count.transactions == 1, (count.transactions, count.statements)
    assert session_version(bot, choose[0]["data"]["s"]) == 2
    # the reflection follow-up's "where to ask later" was written in that same transaction
    with bot.services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(TeamsPersonalChatRow)) == 1
    # a later click writes only the step (reference and chat known): still one transaction
    nxt, inputs = forward(step)
    with counting(count):
        await bot.press(nxt, inputs, aad=aad)
    assert count.transactions == 1, (count.transactions, count.statements)
    assert count.statements.count("INSERT") == 1, count.statements  # the delivery key only


async def test_a_redelivered_click_applies_its_step_once(counted_bot: Counted) -> None:
    bot = counted_bot.bot
    aad = new_aad()
    card = await started(bot, aad)
    choose = by_verb(card, "choose")[0]
    session_id = choose["data"]["s"]
    body = click(bot.fake.service_url, choose, aad=aad)
    first = await bot.post(body)
    again = await bot.post(body)  # Teams retrying: the very same activity id
    assert session_version(bot, session_id) == 2
    assert texts(again.card) == texts(first.card)  # the one step, shown again, no notice
    # the same click on another instance's retry at the same moment: one of them applies it
    step = first.card
    nxt, inputs = forward(step)
    body = click(bot.fake.service_url, nxt, inputs, aad=aad)
    answers = await asyncio.gather(*(bot.post(body) for _ in range(4)))
    assert session_version(bot, session_id) == 3
    assert len({texts(a.card) for a in answers}) == 1, [texts(a.card)[:80] for a in answers]
    assert "Step " in texts(answers[0].card)
    assert len(bot.fake.posted) == 1  # clicks answer in place: only the start's card was posted


async def test_a_click_on_someone_elses_card_is_refused_and_recorded_once(
    counted_bot: Counted,
) -> None:
    bot = counted_bot.bot
    owner, other = new_aad(), new_aad()
    card = await started(bot, owner)
    choose = by_verb(card, "choose")[0]
    before = refusals(bot)
    body = click(bot.fake.service_url, choose, aad=other)
    answer = await bot.post(body)
    assert "Step " not in texts(answer.card)  # a note, not the owner's consultation
    assert refusals(bot) == before + 1
    await bot.post(body)  # redelivered: not recorded twice, still nothing applied
    assert refusals(bot) == before + 1
    assert session_version(bot, choose["data"]["s"]) == 1


async def test_a_reference_is_stored_again_when_its_service_url_changes(
    counted_bot: Counted,
) -> None:
    bot = counted_bot.bot
    aad = new_aad()
    card = await started(bot, aad)
    moved = await FakeConnector().start()
    try:
        # Teams moved the conversation to another region: the click carries the new URL
        choose = by_verb(card, "choose")[0]
        answer = await bot.post(click(moved.service_url, choose, aad=aad))
        assert "Step " in texts(answer.card)
        with bot.services.db.read() as s:
            ref = s.get(TeamsConversationRow, f"a:personal-{aad}")
            assert ref is not None and ref.service_url == moved.service_url
        # and a message with the old URL again is stored again, and answered there
        before = len(bot.fake.posted)
        await bot.post(message(bot.fake.service_url, "help", aad=aad))
        await bot.fake.wait_for(before + 1)
        with bot.services.db.read() as s:
            ref = s.get(TeamsConversationRow, f"a:personal-{aad}")
            assert ref is not None and ref.service_url == bot.fake.service_url
    finally:
        await moved.stop()


async def test_a_redelivered_message_starts_nothing_twice(counted_bot: Counted) -> None:
    bot = counted_bot.bot
    aad = new_aad()
    body = message(bot.fake.service_url, TREE, aad=aad)
    await bot.post(body)
    await bot.fake.wait_for(1)
    await bot.post(body)
    await asyncio.sleep(0.2)  # a second card would have been posted by now
    assert len(bot.fake.posted) == 1
    with bot.services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(SessionRow)) == 1
