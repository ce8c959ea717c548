"""Where one person stands in one tree: the live instance, separate from tree and engine.

A session is plain data so it round-trips through JSON (storage) unchanged. It records the
tree id and version it started on, and its own state version, bumped on every transition, so
a stale or duplicated click is recognised and refused rather than applied twice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FORMAT: Literal[1] = 1


class Visit(BaseModel):
    """A node the user passed, and what they did there."""

    model_config = ConfigDict(frozen=True)

    node: str
    option: int | None = None
    answer: str | None = None


class SessionState(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal[1] = STATE_FORMAT
    id: str
    tree_id: str
    tree_version: int
    lang: Literal["en", "zh"] = "en"
    node: str
    version: int = 1
    history: tuple[Visit, ...] = Field(default_factory=tuple)
    status: Literal["active", "finished"] = "active"

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str) -> SessionState:
        return cls.model_validate_json(raw)
