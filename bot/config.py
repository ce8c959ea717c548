"""Typed settings read once from an injectable environment; errors name the missing key."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.catalog import content_root


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable."""


_TRUE = ("1", "true", "yes")
ENVIRONMENTS = ("", "development", "test", "production")
# signing secrets that appear in our docs, examples and tests: never a real deployment's
DEFAULT_SECRETS = frozenset(
    {"...", "local-secret", "test-signing-secret", "secret", "changeme", "change-me", "xxx"}
)
_TEAMS = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"


class TeamsSettings(BaseModel):
    """The Microsoft 365 Agents SDK's own variable names (operators' tooling sets them)."""

    model_config = ConfigDict(frozen=True)

    client_id: str = ""
    client_secret: str = ""
    tenant_id: str = ""
    auth_type: str = ""
    # only for local use without Azure; refused when ETHICSBOT_ENV=production
    anonymous_allowed: bool = False
    compliance_conversation: str = ""
    # where proactive posts go before a conversation reference is stored (Teams' public one)
    service_url: str = "https://smba.trafficmanager.net/teams/"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TeamsSettings | None:
        """None when nothing of Teams is configured: the platform stays off."""
        client_id = env.get(_TEAMS + "CLIENTID", "")
        # exactly what the Agents SDK itself reads as true: "yes" must not mean anonymous
        # here while the SDK still demands tokens
        anonymous = env.get(_TEAMS + "ANONYMOUS_ALLOWED", "").lower() in ("1", "true")
        if not client_id and not anonymous:
            return None
        return cls(
            client_id=client_id,
            client_secret=env.get(_TEAMS + "CLIENTSECRET", ""),
            tenant_id=env.get(_TEAMS + "TENANTID", ""),
            auth_type=env.get(_TEAMS + "AUTHTYPE", ""),
            anonymous_allowed=anonymous,
            compliance_conversation=env.get("COMPLIANCE_TEAMS_CONVERSATION", ""),
            service_url=env.get("TEAMS_SERVICE_URL") or cls.model_fields["service_url"].default,
        )


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
    teams: TeamsSettings | None = None
    # "production" turns unsafe development conveniences into start-up errors
    env_name: str = ""

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms this instance serves: each one whose settings are present."""
        live = []
        if self.slack_signing_secret or self.slack_bot_token or self.slack_app_token:
            live.append("slack")
        if self.teams is not None:
            live.append("teams")
        return tuple(live)

    @property
    def desks(self) -> tuple[str, ...]:
        """The platforms whose compliance desk receives every case card (one outbox row each):
        every live platform, so a bank on both works a case from either desk."""
        return self.platforms or ("slack",)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        _check_env(env)
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
            dispatch_interval=_number(env, "ETHICSBOT_DISPATCH_INTERVAL", 1.0),
            outbox_lease=_number(env, "ETHICSBOT_OUTBOX_LEASE", 60.0),
            max_backlog=int(_number(env, "ETHICSBOT_MAX_BACKLOG", 200, whole=True, zero=True)),
            auto_migrate=env.get("ETHICSBOT_AUTO_MIGRATE", "1") not in ("0", "false", "no"),
            environ=env,
            teams=TeamsSettings.from_env(env),
            env_name=env.get("ETHICSBOT_ENV", "").strip().lower(),
        )

    def require(self, *names: str) -> None:
        """Fail fast at start-up, naming every missing variable at once."""
        missing = [n for n in names if not getattr(self, n.lower(), "")]
        if missing:
            raise ConfigError("missing environment variable(s): " + ", ".join(missing))

    def check_platforms(self) -> None:
        """What `serve` needs: at least one platform, and each enabled one complete."""
        if not self.platforms:
            raise ConfigError(
                "no platform configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (Slack), "
                f"or {_TEAMS}CLIENTID (Teams), or both"
            )
        if "slack" in self.platforms:
            self.require("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
        teams = self.teams
        if teams is not None and not teams.anonymous_allowed:
            missing = [
                _TEAMS + name
                for name, value in (
                    ("CLIENTID", teams.client_id),
                    ("CLIENTSECRET", teams.client_secret),
                    ("TENANTID", teams.tenant_id),
                )
                if not value
            ]
            if missing:
                raise ConfigError("missing environment variable(s): " + ", ".join(missing))

    @property
    def production(self) -> bool:
        return self.env_name == "production"

    def check_production(self, *, workers: int, log_level: int) -> None:
        """With ETHICSBOT_ENV=production, refuse what is only safe on a developer's machine,
        naming every problem at once so one restart fixes them all."""
        if not self.production:
            return
        problems = []
        if "slack" in self.platforms:
            secret = self.slack_signing_secret.strip()
            if not secret or secret in DEFAULT_SECRETS or len(secret) < 16:
                problems.append(
                    "SLACK_SIGNING_SECRET is empty, too short or an example value: set the "
                    "app's signing secret (Basic Information page)"
                )
        if self.teams is not None and self.teams.anonymous_allowed:
            problems.append(
                f"{_TEAMS}ANONYMOUS_ALLOWED accepts unauthenticated Teams requests: unset it "
                f"and set {_TEAMS}CLIENTID, CLIENTSECRET and TENANTID"
            )
        if workers > 1 and self.database_url.startswith("sqlite"):
            problems.append(
                f"--workers {workers} with SQLite: one SQLite file serves one process; use a "
                "postgresql:// DATABASE_URL for several"
            )
        if log_level <= logging.DEBUG:
            problems.append(
                "ETHICSBOT_LOG_LEVEL=debug makes the Slack and HTTP libraries log request and "
                "response bodies (what staff typed): use info or warning"
            )
        if problems:
            raise ConfigError(
                "refusing to start with ETHICSBOT_ENV=production:\n  - " + "\n  - ".join(problems)
            )

    def start_warnings(self, default_destination: str) -> list[str]:
        """What runs but loses nothing only because work waits: say it once, at start."""
        warnings = []
        slack = "slack" in self.platforms
        if slack and not self.compliance_slack_channel and not default_destination:
            warnings.append(
                "COMPLIANCE_SLACK_CHANNEL is not set and policies/escalation.yaml routes "
                "nowhere else: escalation cards will wait in the outbox, undelivered, "
                "until it is set"
            )
        if not self.dispatcher:
            warnings.append(
                "ETHICSBOT_DISPATCHER=0: this process delivers nothing; another one must"
            )
        return warnings

    def __repr__(self) -> str:  # never print tokens
        return f"Settings(database_url=…, content={self.content})"


def _number(
    env: Mapping[str, str], name: str, default: float, *, whole: bool = False, zero: bool = False
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind} (seconds or a count), not {raw!r}") from None
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name} must be {'0 or more' if zero else 'more than 0'}, not {raw!r}")
    return value


def _check_env(env: Mapping[str, str]) -> None:
    """Values that contradict themselves or cannot work, each named (before anything runs)."""
    name = env.get("ETHICSBOT_ENV", "").strip().lower()
    if name not in ENVIRONMENTS:
        raise ConfigError(
            f"ETHICSBOT_ENV must be one of {', '.join(e for e in ENVIRONMENTS if e)}, not "
            f"{name!r} (a typo would silently skip the production checks)"
        )
    url = env.get("DATABASE_URL", "")
    if url and not url.startswith(("sqlite", "postgresql")):
        scheme = url.split(":", 1)[0]
        raise ConfigError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme}:"
        )
    if env.get("SLACK_APP_TOKEN", "").startswith("xoxb-"):
        raise ConfigError("SLACK_APP_TOKEN holds a bot token (xoxb-): it takes the xapp- token")
    if env.get("SLACK_BOT_TOKEN", "").startswith("xapp-"):
        raise ConfigError("SLACK_BOT_TOKEN holds an app-level token (xapp-): it takes xoxb-")
