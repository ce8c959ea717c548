"""Log set-up for every command: one JSON object per line (what log shippers parse) or the
human text format, and the request id of the request being served on every line.

Nothing here decides what is logged; it makes sure what is logged cannot carry a token:
Slack tokens and bearer credentials are masked in every message, whatever logger wrote it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# the request being served (set by bot.ops.access), so a line logged deep inside carries it
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

FORMATS = ("json", "text")
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# Slack bot/user/app tokens, and any bearer credential (Teams, MSAL)
_SECRET = re.compile(r"\b(xox[abposr]-|xapp-)[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+")
# fields a call may pass with `extra=` that belong in the JSON object
FIELDS = ("route", "method", "status", "latency_ms", "platform")


class LogSettingError(ValueError):
    """ETHICSBOT_LOG_FORMAT or ETHICSBOT_LOG_LEVEL has a value we do not know."""


def mask(text: str) -> str:
    """The text with every token-looking part replaced, so a library's message that quotes a
    header or a URL with a token still cannot leak it."""
    return _SECRET.sub(lambda m: (m.group(1) or "bearer ") + "***", text)


# platform libraries whose messages quote request bodies, even at INFO and WARNING (bolt logs
# a forged request's whole body at INFO, an unhandled one's fields at WARNING)
QUOTING = ("slack_bolt", "slack_sdk", "microsoft_agents")


class WithholdBodies(logging.Filter):
    """Keeps the first words of a platform library's message (what happened) and drops the
    rest (the payload it quotes). Not installed at DEBUG, which production refuses."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(QUOTING):
            message = record.getMessage()
            cut = min((i for i in (message.find(c) for c in "({:") if i >= 0), default=-1)
            if cut >= 0:
                record.msg, record.args = message[:cut].rstrip() + " (details withheld)", None
        return True


class JsonFormatter(logging.Formatter):
    """One line per record: ts, level, logger, msg, request_id, the access fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            out["request_id"] = rid
        for key in FIELDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            # the type and traceback say where; an exception's text may quote a payload
            out["exc"] = record.exc_info[0].__name__ if record.exc_info[0] else "Exception"
            out["trace"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = mask(super().format(record))
        rid = getattr(record, "request_id", None) or request_id.get()
        extras = [f"{k}={record.__dict__[k]}" for k in FIELDS if k in record.__dict__]
        if rid:
            extras.insert(0, f"request_id={rid}")
        return line + (" " + " ".join(extras) if extras else "")


def log_options(env: Mapping[str, str], *, default_format: str, verbose: bool) -> tuple[str, int]:
    """(format, level) from ETHICSBOT_LOG_FORMAT / ETHICSBOT_LOG_LEVEL; -v means info."""
    fmt = (env.get("ETHICSBOT_LOG_FORMAT") or default_format).strip().lower()
    if fmt not in FORMATS:
        raise LogSettingError(f"ETHICSBOT_LOG_FORMAT must be json or text, not {fmt!r}")
    name = (env.get("ETHICSBOT_LOG_LEVEL") or ("info" if verbose else "warning")).strip().lower()
    if name not in LEVELS:
        raise LogSettingError(
            f"ETHICSBOT_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {name!r}"
        )
    return fmt, LEVELS[name]


def configure(fmt: str, level: int) -> None:
    """Route every logger to stderr in `fmt`. The access log is written at INFO whatever the
    level, as operations expect one line per request."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if level > logging.DEBUG:
        handler.addFilter(WithholdBodies())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("bot.access").setLevel(min(level, logging.INFO))
