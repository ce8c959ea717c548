"""Who holds which role, from policies/roles.yaml; checked on the server for every action."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.policy import expand_env
from bot.core.yamlsafe import load_yaml

COMPLIANCE = "compliance_officer"
LEAD = "compliance_lead"
TRAINER = "trainer"


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_users: list[str] = Field(default_factory=list)
    teams_users: list[str] = Field(default_factory=list)

    @field_validator("slack_users", "teams_users", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v or []


class Roles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, Members] = Field(default_factory=dict)

    def has(self, role: str, identity: str) -> bool:
        """Whether `identity` (`slack:U…` or `teams:<Entra object id>`) holds `role`.

        The platform comes from the identity itself, so a Teams user is never checked against
        Slack's list; an unqualified id is a programming error and fails loudly.
        """
        platform, user = split_identity(identity)
        return user in self.members(role, platform)

    def members(self, role: str, platform: str) -> list[str]:
        """The bare platform ids listed for `role` on `platform` (as roles.yaml holds them)."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        m = self.roles.get(role)
        if m is None:
            return []
        return list(m.slack_users if platform == "slack" else m.teams_users)


PLATFORMS = ("slack", "teams")


def split_identity(identity: str) -> tuple[str, str]:
    """`slack:U123` -> ("slack", "U123"); anything unqualified raises ValueError.

    A consultation owner carries its workspace too (`slack:T1:U123`); the user id is always
    the last part, which is what roles.yaml lists.
    """
    platform, sep, rest = identity.partition(":")
    user = rest.rsplit(":", 1)[-1]
    if not sep or platform not in PLATFORMS or not user:
        raise ValueError(f"identity without a platform: {identity!r}")
    return platform, user


def qualify(platform: str, user: str) -> str:
    """The stored form of a platform user id."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    return f"{platform}:{user}"


def load_roles(root: Path, environ: Mapping[str, str]) -> Roles:
    """Read roles.yaml; a missing or broken file grants nobody anything."""
    path = root / "policies" / "roles.yaml"
    if not path.exists():
        return Roles()
    data, _ = load_yaml(path.read_bytes())
    return Roles.model_validate(expand_env(data, environ))
