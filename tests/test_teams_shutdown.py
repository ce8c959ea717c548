"""A normal stop of the Teams route while a timed-out post is still being listened to: the
connector's late answer is still heard (bounded), so its id is kept and the outbox's next
attempt neither posts a second card nor marks the only one "may repeat"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.adapters.teams import case_cards as CC
from tests.fakes.teams_connector import FakeConnector, Fault, by_verb, texts
from tests.harness import eventually
from tests.test_teams_cases import add_to_compliance_channel, desk_cards, rows, say, start

# the client gives up waiting after 0.3 s and keeps listening for 5 s in all
FAST = {"ETHICSBOT_TEAMS_TIMEOUT": "0.3", "ETHICSBOT_TEAMS_LATE_WINDOW": "5"}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


def case_card_state(bot_rows: list[tuple[object, ...]]) -> dict[str, object]:
    return dict(json.loads(str(bot_rows[0][0] or "{}")).get("teams") or {})


async def test_a_late_answer_still_awaited_at_stop_is_kept_and_nothing_repeats(
    sqlite_url: str, connector: FakeConnector
) -> None:
    bot = await start(sqlite_url, connector, **FAST)
    stopped = False
    try:
        await add_to_compliance_channel(bot)
        form = await say(bot, "report", "aad-reporter-stop")
        # Teams takes the card at once but answers only after 1.5 s: past the client's 0.3 s
        connector.fault(Fault(accept=True, delay=1.5))
        submit = by_verb(form, CC.V_REPORT_SUBMIT)[0]
        inputs = {"mode": "named", "topic": "honesty"}
        await bot.press(submit, inputs, aad="aad-reporter-stop")
        await eventually(
            lambda: (
                "no answer"
                in str(rows(bot, "SELECT last_error FROM outbox WHERE kind = 'case_card'"))
            ),
            timeout=10,
        )
        (card,) = desk_cards(connector)
        await bot.stop()  # the late answer is still on its way
        stopped = True
        state = case_card_state(rows(bot, "SELECT card FROM cases"))
        posts = [p for p in connector.posted if p.method == "POST"]
        late_id = f"act-{posts.index(card) + 1}"  # the fake numbers its answers act-1, act-2…
        assert state.get("activity") == late_id, state  # the late id was stored at stop
    finally:
        if not stopped:
            await bot.stop()

    # the next instance takes the row up again: it finds the id, posts nothing more
    again = await start(sqlite_url, connector, **FAST)
    try:
        again.services.signals.notify()
        await eventually(
            lambda: (
                rows(again, "SELECT status FROM outbox WHERE kind = 'case_card'") == [("sent",)]
            ),
            timeout=20,
        )
        assert desk_cards(connector) == [card]
        assert "interrupted" not in texts(card.card)
    finally:
        await again.stop()
