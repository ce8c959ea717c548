"""What an operator sets decides which platforms are live, and `serve` says what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.config import ConfigError, Settings
from tests.conftest import FIXTURE_CONTENT

T = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"


def settings(db_url: str, **env: str) -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": db_url, "ETHICSBOT_CONTENT": str(FIXTURE_CONTENT), **env}
    )


def test_each_platform_is_live_only_with_its_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert settings(url).platforms == ()
    slack = settings(url, SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1")
    assert slack.platforms == ("slack",) and slack.desks == ("slack",)
    teams = settings(url, **{T + "CLIENTID": "app", T + "CLIENTSECRET": "x", T + "TENANTID": "t"})
    assert teams.platforms == ("teams",) and teams.desks == ("teams",)
    assert teams.teams is not None and teams.teams.client_id == "app"
    both = settings(
        url, SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1", **{T + "CLIENTID": "a"}
    )
    assert both.desks == ("slack", "teams")  # a case goes to both desks


def test_serve_names_every_missing_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(ConfigError, match="no platform configured"):
        settings(url).check_platforms()
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        settings(url, SLACK_SIGNING_SECRET="s").check_platforms()
    with pytest.raises(ConfigError, match=f"{T}CLIENTSECRET, {T}TENANTID"):
        settings(url, **{T + "CLIENTID": "app"}).check_platforms()
    # local try-out without Azure: anonymous only when the operator says so, nothing else needed
    settings(url, **{T + "ANONYMOUS_ALLOWED": "true"}).check_platforms()
    assert settings(url, **{T + "ANONYMOUS_ALLOWED": "maybe"}).platforms == ()
    assert settings(url, **{T + "ANONYMOUS_ALLOWED": "yes"}).platforms == ()


def test_a_teams_only_instance_gets_its_own_stored_key_not_a_known_one(db_url: str) -> None:
    """Without ETHICSBOT_SECRET_KEY the pseudonym key is generated once and shared by every
    instance on the database; it is neither the development key nor a platform secret."""
    env = {T + "ANONYMOUS_ALLOWED": "true"}
    first = bootstrap(settings(db_url, **env))
    second = bootstrap(settings(db_url, **env))
    dev = bootstrap(settings(db_url, ETHICSBOT_SECRET_KEY="ethicsbot-dev-key", **env))
    who = "teams:29:1abc"
    assert first.consult.who(who) == second.consult.who(who)
    assert first.consult.who(who) != dev.consult.who(who)
    for s in (first, second, dev):
        s.db.dispose()


def test_an_operator_key_keeps_the_pseudonyms_of_earlier_releases(tmp_path: Path) -> None:
    """Earlier releases derived the key from the Slack signing secret; setting the key to
    `slack:<secret>` (as the README says) keeps every stored consultation reachable."""
    import hashlib

    from bot.identity import make_pseudonymizer

    url = f"sqlite:///{tmp_path / 'c.db'}"
    old = make_pseudonymizer(hashlib.sha256(b"ethicsbot-pseudonym-v1:slack:s3cret").digest())
    services = bootstrap(settings(url, ETHICSBOT_SECRET_KEY="slack:s3cret"))
    assert services.consult.who("slack:T1:U1") == old("slack:T1:U1")
    services.db.dispose()
