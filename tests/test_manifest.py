"""The Slack app manifest validates against Slack's published schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

SCHEMA = (
    json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "shared"
            / "schemas"
            / "slack-app-manifest.schema.1.0.0.json"
        ).read_text()
    )
    if (Path(__file__).resolve().parents[2] / "shared").is_dir()
    else None
)


def _manifest(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "manifest", "slack", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return dict(json.loads(out))


@pytest.mark.skipif(SCHEMA is None, reason="shared/schemas not beside the checkout")
@pytest.mark.parametrize("args", [["--url", "https://ethics.bank.example"], ["--socket"]])
def test_manifest_validates(args: list[str]) -> None:
    m = _manifest(*args)
    jsonschema.Draft7Validator(SCHEMA).validate(m)
    assert m["features"]["slash_commands"][0]["command"] == "/ethics"
    assert m["settings"]["socket_mode_enabled"] is (args == ["--socket"])


def test_http_manifest_points_every_url_at_one_route() -> None:
    m = _manifest("--url", "https://ethics.bank.example/")
    url = "https://ethics.bank.example/slack/events"
    assert m["features"]["slash_commands"][0]["url"] == url
    assert m["settings"]["interactivity"]["request_url"] == url
    assert m["settings"]["event_subscriptions"]["request_url"] == url
    assert m["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert sorted(m["oauth_config"]["scopes"]["bot"]) == sorted(
        ["commands", "chat:write", "users:read", "channels:history", "groups:history"]
    )
