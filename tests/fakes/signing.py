"""Correctly signed Slack requests, as Slack sends them (v0 HMAC-SHA256 signatures)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SECRET = "test-signing-secret"


def signed_headers(
    body: str,
    secret: str = SECRET,
    ts: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={sig}",
        "Content-Type": content_type,
    }


def command_body(
    text: str = "", user: str = "U1", team: str = "T1", command: str = "/ethics"
) -> str:
    return urlencode(
        {
            "token": "x",
            "team_id": team,
            "team_domain": "bank",
            "channel_id": "C1",
            "channel_name": "general",
            "user_id": user,
            "user_name": "someone",
            "command": command,
            "text": text,
            "api_app_id": "A1",
            "response_url": "https://hooks.invalid/commands/1",
            "trigger_id": "trig-1",
        }
    )


def interactive_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = "U1",
    team: str = "T1",
    view_id: str | None = "V1",
    view_type: str = "modal",
    private_metadata: str = "",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "team_id": team},
        "team": {"id": team, "domain": "bank"},
        "api_app_id": "A1",
        "trigger_id": "trig-2",
        "container": {"type": "view", "view_id": view_id},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": "b",
                "action_ts": str(time.time()),
            }
        ],
    }
    if view_id is not None:
        payload["view"] = {
            "id": view_id,
            "type": view_type,
            "callback_id": "eb.walk",
            "private_metadata": private_metadata,
            "hash": "h",
            "state": {"values": {}},
        }
    return payload


def view_submission(
    private_metadata: str,
    text: str | None,
    *,
    user: str = "U1",
    team: str = "T1",
    callback_id: str = "eb.walk",
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": team},
        "team": {"id": team, "domain": "bank"},
        "api_app_id": "A1",
        "trigger_id": "trig-3",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "hash": "h",
            "state": {
                "values": {
                    "eb.answer": {"eb.answer_text": {"type": "plain_text_input", "value": text}}
                }
            },
        },
    }


def event_body(event: dict[str, Any], event_id: str = "Ev1", team: str = "T1") -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": team,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    )
