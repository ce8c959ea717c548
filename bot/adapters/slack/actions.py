"""Action ids and the values carried by buttons: one place to encode and strictly decode them.

A value arriving from Slack is untrusted input (anyone with the signing secret's blessing can
still send any value for any session), so decoding is strict and the service re-checks the
owner, node and state version before anything changes.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ValidationError, field_validator

START: Final = "eb.start"  # picker: value = tree id
CHOOSE: Final = "eb.choose"  # value = Click
CONTINUE: Final = "eb.continue"
BACK: Final = "eb.back"
SAVE: Final = "eb.save"
RESUME: Final = "eb.resume"  # value = session id
RECORD_DM: Final = "eb.record_dm"  # value = session id
VIEW_RECORD: Final = "eb.view_record"  # value = session id
HOME_START: Final = "eb.home_start"
REPORT: Final = "eb.report_start"  # value = session id
WALK_VIEW: Final = "eb.walk"  # callback id of the modal, private_metadata = Click
PICKER_VIEW: Final = "eb.picker"
SHORTCUT: Final = "eb.ask_about_message"
ANSWER_BLOCK: Final = "eb.answer"
ANSWER_INPUT: Final = "eb.answer_text"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SESSION = re.compile(r"^[0-9a-f-]{36}$")


def pattern(prefix: str) -> re.Pattern[str]:
    """Bolt matcher for `prefix` and its numbered variants (`eb.choose:3`)."""
    return re.compile("^" + re.escape(prefix) + r"(:\d+)?$")


class Click(BaseModel):
    session: str
    node: str
    version: int
    option: int = -1

    @field_validator("session")
    @classmethod
    def _session(cls, v: str) -> str:
        if not _SESSION.match(v):
            raise ValueError("bad session id")
        return v

    @field_validator("node")
    @classmethod
    def _node(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("bad node id")
        return v

    def encode(self) -> str:
        return f"{self.session}|{self.node}|{self.version}|{self.option}"

    @classmethod
    def decode(cls, raw: object) -> Click | None:
        """The click, or None for anything malformed (never raises on hostile input)."""
        if not isinstance(raw, str) or len(raw) > 200:
            return None
        parts = raw.split("|")
        if len(parts) != 4:
            return None
        try:
            return cls(session=parts[0], node=parts[1], version=int(parts[2]), option=int(parts[3]))
        except (ValueError, ValidationError):
            return None


def click_value(session: str, node: str, version: int, option: int = -1) -> str:
    """`Click(...).encode()` without the model's validation, for values we build from our own
    session ids and tree node ids on every render; `Click.decode` still checks every value
    that comes back."""
    return f"{session}|{node}|{version}|{option}"


def session_id(raw: object) -> str | None:
    return raw if isinstance(raw, str) and _SESSION.match(raw) else None


def tree_id(raw: object) -> str | None:
    return raw if isinstance(raw, str) and _ID.match(raw) else None
