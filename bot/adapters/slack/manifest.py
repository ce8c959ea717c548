"""The Slack app manifest: the one description of scopes, command, shortcut and events."""

from __future__ import annotations

from typing import Any

# Kept to the minimum the features use:
#   commands          /ethics
#   chat:write        decision records to the user's DM, case cards, exercises
#   users:read        the user's locale (users.info include_locale) for the default language
#   channels:history  \ finding our own earlier post by its metadata after a crash, so a
#   groups:history    / case card or exercise is never posted twice (public / private channel)
BOT_SCOPES = ["commands", "chat:write", "users:read", "channels:history", "groups:history"]


def slack_manifest(*, url: str | None, socket: bool = False) -> dict[str, Any]:
    events_url = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": "/ethics",
        "description": "Think an ethical question through, privately",
        "usage_hint": "[topic | help | lang zh|en]",
        "should_escape": True,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": ["app_home_opened"]}
    if not socket:
        command["url"] = events_url
        interactivity["request_url"] = events_url
        events["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "EthicsBot",
            "description": "Ethics decision support for bank staff (道德助手)",
            "long_description": (
                "EthicsBot walks you privately through the bank's four-step ethical decision "
                "method — identify the issue, gather the facts, evaluate the options against "
                "the bank's values, codes and the law, decide and reflect — and helps you "
                "speak up to compliance when something is serious. It is not a hotline and not "
                "legal advice."
            ),
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "EthicsBot", "always_online": True},
            "slash_commands": [command],
            "shortcuts": [
                {
                    "name": "Ask EthicsBot about this",
                    "type": "message",
                    "callback_id": "eb.ask_about_message",
                    "description": "Think through a message privately; its text is not copied",
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket,
            "token_rotation_enabled": False,
        },
    }
