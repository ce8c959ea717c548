"""Weekly exercises in a Teams channel, through the real server and the fake Bot Connector:
a trainer schedules by @mentioning the bot, the post goes to the channel proactively, answers
stay private to each clicker, the reveal closes the post for everyone and replies the
answer into its thread; a channel the bot was never added to waits and says what to do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.adapters.teams import exercise_cards as XC
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.teams_connector import (
    APP_ID,
    FakeConnector,
    TeamsBot,
    by_verb,
    message,
    teams_env,
    texts,
)
from tests.harness import eventually
from tests.test_cases import FakeClock
from tests.test_exercises import SHANGHAI_MON_0900
from tests.test_teams_golden import check_card

CHANNEL = "19:training-room@thread.tacv2"
TRAINER = "aad-trainer-1"


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[tuple[TeamsBot, FakeClock]]:
    fake = await FakeConnector().start()
    clock = FakeClock(SHANGHAI_MON_0900 - timedelta(days=1))
    env = teams_env(
        db_url, FIXTURE_CONTENT, TRAINER_TEAMS_USERS=TRAINER, ETHICSBOT_OUTBOX_LEASE="1"
    )
    bot = await TeamsBot(bootstrap(Settings.from_env(env), clock=clock), fake).start()
    yield bot, clock
    await bot.stop()
    await fake.stop()


def in_channel(bot: TeamsBot, words: str, aad: str, thread: str = "1") -> dict[str, Any]:
    """`@EthicsBot <words>` as a new post in the channel (Teams appends the thread id)."""
    mention = "<at>EthicsBot</at>"
    return message(
        bot.fake.service_url,
        f"{mention} {words}",
        aad=aad,
        conversation=f"{CHANNEL};messageid={thread}",
        conversation_type="channel",
        channelData={"tenant": {"id": "t"}, "team": {"id": "19:team"}, "channel": {"id": CHANNEL}},
        entities=[{"type": "mention", "text": mention, "mentioned": {"id": f"28:{APP_ID}"}}],
    )


async def command(bot: TeamsBot, words: str, aad: str = TRAINER) -> str:
    before = len(bot.fake.posted)
    answer = await bot.post(in_channel(bot, words, aad))
    assert answer.status in (200, 202)
    await eventually(lambda: len(bot.fake.posted) > before)
    reply = bot.fake.posted[before]
    assert reply.conversation.startswith(CHANNEL + ";messageid=")  # into the trainer's thread
    return texts(reply.card)


def channel_posts(bot: TeamsBot) -> list[Any]:
    return [p for p in bot.fake.posted if p.conversation == CHANNEL and p.method == "POST"]


async def answer(bot: TeamsBot, post: dict[str, Any], option: str, aad: str, at: str) -> Any:
    action = next(a for a in by_verb(post, XC.V_ANSWER) if a["data"]["o"] == option)
    return await bot.press(
        action, aad=aad, conversation=CHANNEL, conversation_type="channel", timestamp=at
    )


async def test_a_bank_on_both_platforms_keeps_each_platforms_schedules_apart(
    db_url: str,
) -> None:
    """A Slack channel id means nothing to a Teams trainer: `exercise list` in Teams shows
    Teams schedules only, and `cancel` cannot reach a Slack schedule from Teams."""
    fake = await FakeConnector().start()
    env = teams_env(db_url, FIXTURE_CONTENT, TRAINER_TEAMS_USERS=TRAINER, TRAINER_SLACK_USERS="UT")
    bot = await TeamsBot(bootstrap(Settings.from_env(env)), fake).start()
    try:
        slack = bot.services.exercises.schedule(
            "slack:UT", platform="slack", channel="CSLACK1", kind="weekly",
            post="mon 09:00", reveal="fri 16:00", tz="Asia/Shanghai",
        )  # fmt: skip
        assert "No exercise schedules" in await command(bot, "exercise list")
        await command(bot, "exercise weekly tue 10:00 thu 15:00 Asia/Shanghai")
        listed = await command(bot, "exercise list")
        assert "this channel" in listed and "tue 10:00" in listed
        assert slack.id[:8] not in listed and "CSLACK1" not in listed
        assert "cancelled" not in await command(bot, f"exercise cancel {slack.id[:8]}")
        (status,) = [s.status for s in bot.services.exercises.schedules() if s.id == slack.id]
        assert status == "active"
    finally:
        await bot.stop()
        await fake.stop()


async def test_an_exercise_posts_to_a_teams_channel_takes_private_answers_and_reveals(
    world: tuple[TeamsBot, FakeClock],
) -> None:
    bot, clock = world
    # not a trainer: refused (and audited by the service)
    assert "Only trainers" in await command(
        bot, "exercise weekly mon 09:00 fri 16:00", aad="aad-staff-1"
    )
    reply = await command(bot, "exercise weekly mon 09:00 fri 16:00 Asia/Shanghai")
    assert "scheduled here" in reply
    assert "this channel" in await command(bot, "exercise list")
    with bot.services.db.tx() as s:
        platform, channel = s.execute(
            text("SELECT platform, channel FROM exercise_schedules")
        ).one()
        refused = s.execute(
            text("SELECT count(*) FROM audit_log WHERE result = 'refused'")
        ).scalar()
    assert (platform, channel) == ("teams", CHANNEL) and refused == 1

    clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()
    await eventually(lambda: len(channel_posts(bot)) == 1)
    posted = channel_posts(bot)[0]
    check_card(posted.card, "exercise post")
    assert "每周伦理练习" in texts(posted.card) and "Weekly dilemma" in texts(posted.card)
    before = len(bot.fake.posted)

    # six colleagues answer; each sees only their own answer, nothing is posted for it
    for i, option in enumerate("bbbacb"):
        mine = (
            await answer(bot, posted.card, option, f"aad-staff-{i}", f"2026-12-07T01:0{i}:00Z")
        ).card
        check_card(mine, "answered")
        assert f"Your answer: **{option.upper()}**" in texts(mine)
    # one changes their mind before the reveal (a later click wins)
    changed = (await answer(bot, posted.card, "a", "aad-staff-5", "2026-12-07T02:00:00Z")).card
    assert "Your answer: **A**" in texts(changed)
    assert len(bot.fake.posted) == before  # no answer ever reached the channel
    assert all("Your answer: " not in json.dumps(p.body) for p in bot.fake.posted)

    clock.now = SHANGHAI_MON_0900 + timedelta(days=4, hours=7, seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()
    activity = posted_id(bot)
    await eventually(
        lambda: any(p.method == "PUT" and p.activity_id == activity for p in bot.fake.posted)
    )
    await eventually(
        lambda: any(p.method == "POST" and p.activity_id == activity for p in bot.fake.posted)
    )
    closed = next(
        p for p in bot.fake.posted if p.method == "PUT" and p.activity_id == activity
    ).card
    reveal = next(
        p for p in bot.fake.posted if p.method == "POST" and p.activity_id == activity
    ).card
    check_card(closed, "closed")
    check_card(reveal, "reveal")
    assert by_verb(closed, XC.V_ANSWER) == [] and "Closed" in texts(closed)
    shown = texts(reveal)
    assert "Recommended: **B**" in shown and "6** 位同事作答" in shown
    assert "Yes: verify first." in shown and "No: deposits are secret." in shown
    # after the reveal an answer is refused, and only the clicker sees that
    late = (await answer(bot, posted.card, "b", "aad-staff-9", "2026-12-11T09:00:00Z")).card
    assert "closed" in texts(late)
    with bot.services.db.tx() as s:
        counts = dict(
            s.execute(text("SELECT option, count(*) FROM exercise_answers GROUP BY option")).all()
        )
    assert counts == {"a": 2, "b": 3, "c": 1}


def posted_id(bot: TeamsBot) -> str:
    with bot.services.db.tx() as s:
        stored = s.execute(text("SELECT message FROM exercise_posts")).scalar()
    return str(json.loads(stored)["activity"])


async def test_a_channel_the_bot_was_never_added_to_waits_and_says_what_to_do(
    world: tuple[TeamsBot, FakeClock],
) -> None:
    bot, clock = world
    bot.services.exercises.schedule(
        "cli:ops",
        platform="teams",
        channel="19:never-added@thread.tacv2",
        kind="weekly",
        post="mon 09:00",
        reveal="fri 16:00",
        tz="Asia/Shanghai",
    )
    clock.now = SHANGHAI_MON_0900 + timedelta(seconds=30)
    bot.services.exercises.tick()
    bot.services.signals.notify()

    def reason() -> str:
        with bot.services.db.tx() as s:
            return str(
                s.execute(
                    text("SELECT last_error FROM outbox WHERE kind = 'exercise_post'")
                ).scalar()
                or ""
            )

    await eventually(lambda: "never added" in reason())
    assert "Manage team" in reason() and "@mention EthicsBot" in reason()
    assert bot.fake.posted == []
    # typed in the personal chat, `exercise …` explains where and how to schedule
    hint = await bot.say("exercise weekly mon 09:00 fri 16:00", aad=TRAINER)
    assert "Add EthicsBot" in texts(hint) and "@EthicsBot exercise weekly" in texts(hint)
