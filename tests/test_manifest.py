"""The Slack app manifest validates against Slack's published schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "slack-app-manifest.schema.1.0.0.json").read_text()
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


def test_every_vendored_schema_carries_its_licence() -> None:
    """The schemas are third-party files: each ships beside its upstream licence text."""
    folder = Path(__file__).parent / "schemas"
    schemas = sorted(folder.glob("*.schema.*.json"))
    assert {p.name.split(".schema.")[0] for p in schemas} == {
        "adaptive-card",
        "slack-app-manifest",
        "teams-app-manifest",
    }
    for schema in schemas:
        licence = folder / (schema.name.split(".schema.")[0] + ".LICENSE")
        assert "Permission is hereby granted" in licence.read_text(), licence
        assert "$schema" in json.loads(schema.read_text()), schema
