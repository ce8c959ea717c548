"""The minimum shape of each Slack payload, checked before bolt parses it.

bolt assumes well-formed payloads: a signed request missing, say, `view.type` raises inside
bolt and becomes a 500. These pydantic models state what every listener relies on, so such
input is answered 400 and never reaches a listener. Extra fields are allowed (Slack adds
fields all the time).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _User(_Open):
    id: str = Field(min_length=1)


class _Action(_Open):
    action_id: str = Field(min_length=1)


class BlockActions(_Open):
    user: _User
    actions: list[_Action] = Field(min_length=1)


class _View(_Open):
    type: str
    callback_id: str = ""
    state: dict[str, Any] = Field(default_factory=dict)
    private_metadata: str = ""


class ViewSubmission(_Open):
    user: _User
    view: _View


class Shortcut(_Open):
    callback_id: str = Field(min_length=1)
    trigger_id: str = Field(min_length=1)
    user: _User


class _Event(_Open):
    type: str = Field(min_length=1)


class EventCallback(_Open):
    event_id: str = Field(min_length=1)
    event: _Event


class SlashCommand(_Open):
    command: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    team_id: str = Field(min_length=1)
    trigger_id: str = Field(min_length=1)


MODELS: dict[str, type[_Open]] = {
    "block_actions": BlockActions,
    "view_submission": ViewSubmission,
    "view_closed": ViewSubmission,
    "message_action": Shortcut,
    "shortcut": Shortcut,
    "event_callback": EventCallback,
}


def problem(data: dict[str, Any], *, command: bool = False) -> str | None:
    """What is wrong with a payload, or None when listeners can rely on it."""
    model = SlashCommand if command else MODELS.get(str(data.get("type")))
    if model is None:
        return None  # url_verification, ssl_check, or a type bolt will answer 404 to
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return None
