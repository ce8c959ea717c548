"""The product's own sentences: complete in both languages and true on every platform."""

from __future__ import annotations

import re
import string

import pytest

from bot.adapters.slack.text import msg as slack_msg
from bot.messages import MESSAGES, SLOTS, msg

PLATFORMS = ("slack", "teams")


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_text_exists_in_both_languages_with_the_same_placeholders(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == {"en", "zh"}, key
    assert entry["en"].strip() and entry["zh"].strip(), key
    assert _fields(entry["en"]) == _fields(entry["zh"]), key


def test_a_platform_variant_exists_for_both_chat_platforms() -> None:
    """A key varied for Slack must say the same thing for Teams, or Teams users would get
    Slack's instructions (or a KeyError) instead."""
    varied = {k.split(".", 1)[0] for k in MESSAGES if "." in k}
    for base in varied:
        for platform in PLATFORMS:
            assert f"{base}.{platform}" in MESSAGES or base in MESSAGES, (base, platform)
        if base not in MESSAGES:
            assert all(f"{base}.{p}" in MESSAGES for p in PLATFORMS), base


def test_neutral_texts_name_no_platform_and_use_neutral_markup() -> None:
    """Only `.slack` variants may speak Slack (`/ethics`, `<#C…>`, "Slack", *bold*)."""
    for key, entry in MESSAGES.items():
        for lang, text in entry.items():
            if key.endswith(".slack"):
                continue
            assert "/ethics" not in text and "<#" not in text and "<@" not in text, key
            assert "Slack" not in text, key
            single = re.sub(r"\*\*[^*]+\*\*", "", text)
            assert "*" not in single, (key, lang, "bold is **x** in neutral texts")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_teams_users_are_told_teams_things_and_slack_users_slack_things(lang: str) -> None:
    teams = msg("mode_anonymous_help", lang, "teams")
    slack = msg("mode_anonymous_help", lang, "slack")
    assert "Microsoft 365" in teams and "/ethics" not in teams and "Slack" not in teams
    assert "Slack" in slack and "/ethics status" in slack
    assert "`status`" in msg("receipt", lang, "teams", code="K7Q2")
    assert "/ethics" not in msg("help", lang, "teams")
    assert "/ethics" in msg("help", lang, "slack")
    assert "{" not in msg("saved", lang, "teams") + msg("saved", lang, "console")


def test_a_slot_without_a_platform_is_a_loud_error() -> None:
    with pytest.raises(KeyError):
        msg("mode_anonymous_help", "en")
    for slot in SLOTS:
        assert all(f"{slot}.{p}" in MESSAGES for p in PLATFORMS), slot


def test_slack_gets_its_own_bold() -> None:
    assert slack_msg("receipt", "en", code="K7Q2").startswith("Your receipt code: *K7Q2*.")
    assert "**" not in slack_msg("help", "zh")
