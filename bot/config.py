"""Typed settings read once from an injectable environment; errors name the missing key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.catalog import content_root


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_url: str
    content: Path
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    compliance_slack_channel: str = ""
    secret_key: str = ""
    compliance_contact: str = ""
    dispatcher: bool = True
    dispatch_interval: float = 1.0
    outbox_lease: float = 60.0
    max_backlog: int = 200
    auto_migrate: bool = True
    environ: dict[str, str] = {}
    # the platforms whose compliance desk receives every case card (one outbox row each)
    desks: tuple[str, ...] = ("slack",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        api = env.get("SLACK_API_URL") or "https://slack.com/api/"
        if not api.endswith("/"):
            api += "/"  # AsyncWebClient joins with urljoin: without it '/api' is dropped
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{Path.cwd() / 'ethicsbot.db'}",
            content=content_root(env),
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_api_url=api,
            compliance_slack_channel=env.get("COMPLIANCE_SLACK_CHANNEL", ""),
            secret_key=env.get("ETHICSBOT_SECRET_KEY", ""),
            compliance_contact=env.get("ETHICSBOT_COMPLIANCE_CONTACT", ""),
            dispatcher=env.get("ETHICSBOT_DISPATCHER", "1") not in ("0", "false", "no"),
            dispatch_interval=float(env.get("ETHICSBOT_DISPATCH_INTERVAL") or 1.0),
            outbox_lease=float(env.get("ETHICSBOT_OUTBOX_LEASE") or 60.0),
            max_backlog=int(env.get("ETHICSBOT_MAX_BACKLOG") or 200),
            auto_migrate=env.get("ETHICSBOT_AUTO_MIGRATE", "1") not in ("0", "false", "no"),
            environ=env,
        )

    def require(self, *names: str) -> None:
        """Fail fast at start-up, naming every missing variable at once."""
        missing = [n for n in names if not getattr(self, n.lower(), "")]
        if missing:
            raise ConfigError("missing environment variable(s): " + ", ".join(missing))

    def __repr__(self) -> str:  # never print tokens
        return f"Settings(database_url=…, content={self.content})"
