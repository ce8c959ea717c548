"""With credentials configured, /api/messages takes only valid Bot Framework tokens (checked
against a local JWKS); everything else gets 401 and changes nothing. /slack/events is not
behind that check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import jwt
import pytest
from sqlalchemy import func, select

from bot.bootstrap import bootstrap
from bot.catalog import REPO_ROOT
from bot.config import Settings
from bot.storage.tables import SeenEventRow, TeamsConversationRow
from tests.fakes.teams_connector import (
    OUTBOUND_TOKEN,
    FakeConnector,
    Keys,
    TeamsBot,
    message,
    teams_env,
    texts,
    unsigned_token,
)


@pytest.fixture
async def bot(sqlite_url: str) -> AsyncIterator[TeamsBot]:
    fake = await FakeConnector().start()
    env = teams_env(sqlite_url, REPO_ROOT, anonymous=False)
    b = await TeamsBot(bootstrap(Settings.from_env(env)), fake, signed=True).start()
    yield b
    await b.stop()
    await fake.stop()


def _changed(bot: TeamsBot) -> int:
    with bot.services.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(SeenEventRow)) or 0) + int(
            s.scalar(select(func.count()).select_from(TeamsConversationRow)) or 0
        )


async def test_a_valid_token_is_served_and_replies_carry_the_outbound_token(bot: TeamsBot) -> None:
    card = await bot.say("help")
    assert "lang zh" in texts(card)
    assert bot.fake.posted[0].auth == f"Bearer {OUTBOUND_TOKEN}"


@pytest.mark.parametrize(
    "case",
    ["none", "garbage", "not-bearer", "forged", "wrong-audience", "alg-none", "hs256", "expired"],
)
async def test_bad_tokens_get_401_and_change_nothing(bot: TeamsBot, case: str) -> None:
    fake = bot.fake
    good = fake.keys
    tokens = {
        "none": "",
        "garbage": "abc.def.ghi",
        "not-bearer": None,
        "forged": Keys(kid=good.kid).token(service_url=fake.service_url),  # same kid, other key
        "wrong-audience": good.token(aud="someone-elses-bot", service_url=fake.service_url),
        "alg-none": unsigned_token(),
        "hs256": jwt.encode(
            {"iss": "https://api.botframework.com", "aud": "x"},
            "s" * 40,
            algorithm="HS256",
            headers={"kid": good.kid},
        ),
        "expired": good.token(
            service_url=fake.service_url, exp=1_000_000, iat=999_000, nbf=999_000
        ),
    }
    before = _changed(bot)
    activity = message(fake.service_url, "ethics")
    if case == "not-bearer":
        async with bot.http.post(
            bot.url + "/api/messages", json=activity, headers={"Authorization": "Basic dTpw"}
        ) as r:
            status = r.status
    elif case == "none":
        async with bot.http.post(bot.url + "/api/messages", json=activity) as r:
            status = r.status
    else:
        status = (await bot.post(activity, token=tokens[case])).status
    assert status == 401
    assert _changed(bot) == before
    assert fake.posted == []


async def test_a_bad_token_is_refused_before_the_body_is_read(bot: TeamsBot) -> None:
    """Even a body that is not JSON gets 401 (not 400) without a valid token."""
    answer = await bot.post(None, token="abc.def.ghi", raw=b"{not json")
    assert answer.status == 401


async def test_one_server_serves_both_and_the_token_check_is_on_teams_route_only(
    sqlite_url: str,
) -> None:
    from tests.fakes.signing import command_body, signed_headers
    from tests.fakes.slack_api import FakeSlack
    from tests.harness import slack_env

    slack = FakeSlack()
    await slack.start()
    fake = await FakeConnector().start()
    env = {
        **slack_env(sqlite_url, slack.url, REPO_ROOT),
        **teams_env(sqlite_url, REPO_ROOT, anonymous=False),
    }
    settings = Settings.from_env(env)
    assert settings.platforms == ("slack", "teams")
    b = await TeamsBot(bootstrap(settings), fake, signed=True).start()
    try:
        body = command_body("help")
        async with b.http.post(
            b.url + "/slack/events", data=body.encode(), headers=signed_headers(body)
        ) as r:
            assert r.status == 200  # Slack's signed request, no Bot Framework token
        assert (await b.post(message(fake.service_url, "help"), token="abc.def.ghi")).status == 401
        card = await b.say("help")
        assert "lang zh" in texts(card)
    finally:
        await b.stop()
        await fake.stop()
        await slack.stop()
