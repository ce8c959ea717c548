"""Teams delivery drills through the real server (`/api/messages`, anonymous mode) and the
fake Bot Connector over HTTP: a connector that takes a post but answers after the client's
time-out, refuses the connection, or answers 503 still leaves exactly one case card (or
exercise post) in the conversation, with the posted id stored and the outbox drained."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.teams import case_cards as CC
from tests.fakes.teams_connector import FakeConnector, Fault, Posted, TeamsBot, by_verb, texts
from tests.harness import eventually
from tests.test_cases import FakeClock
from tests.test_exercises import SHANGHAI_MON_0900
from tests.test_teams_cases import (
    add_to_compliance_channel,
    desk_cards,
    rows,
    say,
    start,
)
from tests.test_teams_exercises import TRAINER, channel_posts, command, posted_id

# the client gives up waiting after 0.3 s and keeps listening for 3 s in all
FAST = {"ETHICSBOT_TEAMS_TIMEOUT": "0.3", "ETHICSBOT_TEAMS_LATE_WINDOW": "3"}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


def stored_activity(bot: TeamsBot) -> str:
    return str(json.loads(rows(bot, "SELECT card FROM cases")[0][0] or "{}")["teams"]["activity"])


def id_of(fake: FakeConnector, post: Posted) -> str:
    """The id the fake answered for one POST (it numbers its answers act-1, act-2, …)."""
    return f"act-{[p for p in fake.posted if p.method == 'POST'].index(post) + 1}"


def message_of(bot: TeamsBot) -> str:
    return str(rows(bot, "SELECT message FROM exercise_posts")[0][0] or "")


def drained(bot: TeamsBot, kind: str) -> bool:
    return rows(bot, f"SELECT status FROM outbox WHERE kind = '{kind}'") == [("sent",)]


async def test_a_card_teams_took_but_answered_late_is_posted_once_and_its_id_kept(
    sqlite_url: str, connector: FakeConnector
) -> None:
    bot = await start(sqlite_url, connector, **FAST)
    try:
        await add_to_compliance_channel(bot)
        form = await say(bot, "report", "aad-reporter-late")
        connector.fault(Fault(accept=True, delay=1.5))
        submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
        inputs = {"mode": "named", "topic": "honesty"}
        assert "is recorded" in texts(
            (await bot.press(submit, inputs, aad="aad-reporter-late")).card
        )
        await eventually(lambda: drained(bot, "case_card"), timeout=20)
        (card,) = desk_cards(connector)
        assert "interrupted" not in texts(card.card)  # not a repeat: the only card
        assert stored_activity(bot) == id_of(connector, card)
        assert connector.attempts == len(connector.posted)  # no second POST was tried
    finally:
        await bot.stop()


async def test_a_refused_connection_then_healed_gives_one_unmarked_card(
    sqlite_url: str, connector: FakeConnector
) -> None:
    bot = await start(sqlite_url, connector, **FAST)
    try:
        await add_to_compliance_channel(bot)
        form = await say(bot, "report", "aad-reporter-refused")
        port = int(connector.url.rsplit(":", 1)[1])
        await connector.stop()  # nothing listens: every connect is refused
        submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
        inputs = {"mode": "named", "topic": "honesty"}
        receipt = (await bot.press(submit, inputs, aad="aad-reporter-refused")).card
        assert "is recorded" in texts(receipt)
        await eventually(
            lambda: (
                "ClientConnectorError"
                in str(rows(bot, "SELECT last_error FROM outbox WHERE kind = 'case_card'"))
            ),
            timeout=20,
        )
        await connector.start(port)  # Teams is back
        bot.services.signals.notify()
        await eventually(lambda: drained(bot, "case_card"), timeout=30)
        (card,) = desk_cards(connector)
        assert "interrupted" not in texts(card.card)  # nothing was sent before: no repeat
        assert stored_activity(bot) == id_of(connector, card)
    finally:
        await bot.stop()


async def test_a_503_then_ok_gives_one_unmarked_card(
    sqlite_url: str, connector: FakeConnector
) -> None:
    bot = await start(sqlite_url, connector, **FAST)
    try:
        await add_to_compliance_channel(bot)
        form = await say(bot, "report", "aad-reporter-503")
        connector.fault(Fault(status=503), Fault(status=503), Fault(status=503))
        submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
        inputs = {"mode": "named", "topic": "honesty"}
        assert "is recorded" in texts(
            (await bot.press(submit, inputs, aad="aad-reporter-503")).card
        )
        await eventually(lambda: drained(bot, "case_card"), timeout=30)
        (card,) = desk_cards(connector)
        assert "interrupted" not in texts(card.card)
        assert stored_activity(bot) == id_of(connector, card)
    finally:
        await bot.stop()


async def test_an_exercise_post_teams_took_but_answered_late_is_posted_once(
    sqlite_url: str, connector: FakeConnector
) -> None:
    from bot.bootstrap import bootstrap
    from bot.config import Settings
    from tests.conftest import FIXTURE_CONTENT
    from tests.fakes.teams_connector import teams_env

    clock = FakeClock(SHANGHAI_MON_0900 - timedelta(days=1))
    env = teams_env(
        sqlite_url,
        FIXTURE_CONTENT,
        TRAINER_TEAMS_USERS=TRAINER,
        ETHICSBOT_OUTBOX_LEASE="1",
        **FAST,
    )
    bot = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), connector).start()
    try:
        assert "scheduled here" in await command(
            bot, "exercise weekly mon 09:00 fri 16:00 Asia/Shanghai"
        )
        connector.fault(Fault(accept=True, delay=1.5))
        clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
        bot.services.exercises.tick()
        bot.services.signals.notify()
        await eventually(lambda: len(channel_posts(bot)) == 1)
        await eventually(lambda: "activity" in message_of(bot))  # the late id, stored
        clock.now += timedelta(seconds=10)  # past the row's hold-back (the late window)
        bot.services.signals.notify()
        await eventually(lambda: drained(bot, "exercise_post"), timeout=20)
        (post,) = channel_posts(bot)
        assert posted_id(bot) == id_of(connector, post)
        assert "unknown" not in message_of(bot)
    finally:
        await bot.stop()


# -- SIGKILL: the real `ethicsbot serve` process, killed between a consultation's steps -------


class RemoteTeams(TeamsBot):
    """Drives a `serve` subprocess as Teams would (anonymous mode, same fake connector)."""

    def __init__(self, url: str, fake: FakeConnector, db_url: str) -> None:
        import aiohttp

        from bot.bootstrap import bootstrap
        from bot.config import Settings
        from tests.conftest import FIXTURE_CONTENT
        from tests.fakes.teams_connector import teams_env

        env = teams_env(db_url, FIXTURE_CONTENT, ETHICSBOT_AUTO_MIGRATE="0")
        super().__init__(bootstrap(Settings.from_env(env)), fake)  # to read the database
        self.url = url
        self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        await self.http.close()
        self.services.db.dispose()


async def test_a_teams_consultation_and_its_escalation_survive_sigkill(
    tmp_path: Path, connector: FakeConnector
) -> None:
    from tests.conftest import FIXTURE_CONTENT
    from tests.fakes.teams_connector import teams_env
    from tests.serving import Serve
    from tests.test_teams_cases import DESK, _option

    db_url = f"sqlite:///{tmp_path / 'kill.db'}"
    env = teams_env(db_url, FIXTURE_CONTENT, **{**DESK, **FAST})
    server = Serve(env, tmp_path / "serve.log")
    aad = "aad-walker-1"
    bot = RemoteTeams(await server.start(), connector, db_url)
    try:
        await add_to_compliance_channel(bot)
        card = await say(bot, "mini", aad)
        card = (await bot.press(_option(card, 1), aad=aad)).card  # step 1 is durable now
        server.kill()
        await server.start()  # the same database, a new process
        answer = by_verb(card, "answer")[0]
        card = (await bot.press(answer, {"answer": "the caller asked"}, aad=aad)).card
        assert by_verb(card, "proceed")  # the step before the kill was not lost
        # the same answer again (Teams redelivers, or a second click): applied once
        stale = (await bot.press(answer, {"answer": "the caller asked"}, aad=aad)).card
        assert "already answered" in texts(stale) and by_verb(stale, "proceed")
        server.kill()
        await server.start()
        card = (await bot.press(by_verb(card, "proceed")[0], aad=aad)).card
        card = (await bot.press(_option(card, 1), aad=aad)).card
        assert "must be reported" in texts(card)  # the outcome, reached across two kills
        form = (await bot.press(by_verb(card, CC.V_REPORT)[0], aad=aad)).card
        connector.fault(Fault(status=503), Fault(status=503), Fault(status=503))
        receipt = (
            await bot.press(
                by_verb(form, CC.V_REPORT_SUBMIT)[0], {"mode": "named", "topic": "honesty"}, aad=aad
            )
        ).card
        assert "is recorded" in texts(receipt)
        server.kill()  # accepted (receipt shown), not yet delivered
        assert desk_cards(connector) == []
        await server.start()
        await eventually(lambda: len(desk_cards(connector)) == 1, timeout=30)
        await eventually(lambda: drained(bot, "case_card"), timeout=30)
        assert len(desk_cards(connector)) == 1
        assert rows(bot, "SELECT count(*) FROM cases")[0][0] == 1
    finally:
        await server.aclose()
        await bot.stop()
