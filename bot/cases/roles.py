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

    def has(self, role: str, platform: str, user: str) -> bool:
        members = self.roles.get(role)
        if members is None or not user:
            return False
        return user in (members.slack_users if platform == "slack" else members.teams_users)

    def members(self, role: str, platform: str) -> list[str]:
        m = self.roles.get(role)
        return list(m.slack_users if platform == "slack" else m.teams_users) if m else []


def load_roles(root: Path, environ: Mapping[str, str]) -> Roles:
    """Read roles.yaml; a missing or broken file grants nobody anything."""
    path = root / "policies" / "roles.yaml"
    if not path.exists():
        return Roles()
    data, _ = load_yaml(path.read_bytes())
    return Roles.model_validate(expand_env(data, environ))
