"""Builds the bolt AsyncApp on a long-lived HTTP session with slack_sdk's retry handlers."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.case_listeners import register_cases
from bot.adapters.slack.exercise_listeners import register_exercises
from bot.adapters.slack.listeners import Deferred, ack_unavailable, register
from bot.adapters.slack.reflection_listeners import register_reflection
from bot.bootstrap import Services

log = logging.getLogger(__name__)


SDK_LOGGER = "slack_sdk.web.async_base_client"


def sdk_logger() -> logging.Logger:
    """The logger our Web API clients write to. slack_sdk builds its debug lines (every
    request's parameters, every response's headers and whole body: the view we just sent)
    whenever the logger's *own* level is unset (it tests `logger.level <= DEBUG`, not
    `isEnabledFor`), and logging then drops them: ~0.1 ms of CPU per Web API call in the
    profile, and user text formatted for nothing. This child of slack_sdk's logger (so the
    handlers and the body-withholding filter still apply to it) carries the level that is
    in effect when the client is made, so those lines are built only when DEBUG is on."""
    log = logging.getLogger(SDK_LOGGER + ".ethicsbot")
    log.setLevel(logging.getLogger(SDK_LOGGER).getEffectiveLevel())
    return log


def make_client(token: str, base_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    """One client per process on one aiohttp session (a session per call doubles the CPU cost)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        logger=sdk_logger(),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


async def _on_error(
    error: Exception, body: dict[str, Any], request: AsyncBoltRequest
) -> BoltResponse | None:
    # a database fault before the ack: the ack tells the person (logged where translated)
    answer = ack_unavailable(error, body, acked=request.context.ack.response is not None)
    if answer is not None:
        return answer
    # never log the body: it can hold what a user typed
    log.error("listener failed on a %s request", body.get("type") or "command", exc_info=error)
    return None


class _QuietTokenWarning(logging.Filter):
    """bolt warns at every start that the token is unused when a client is given: it reads
    SLACK_BOT_TOKEN itself. We give the client on purpose (one shared HTTP session)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


def build_slack_app(
    services: Services,
    client: AsyncWebClient,
    deferred: Deferred | None = None,
    *,
    verified_upstream: bool = False,
) -> AsyncApp:
    """The bolt app with every listener. `verified_upstream` is for a caller that checked
    Slack's signature itself before dispatching (POST /slack/events does, over the raw bytes,
    before anything parses them): bolt's own check would then be the same HMAC a second time
    on every request, so it is switched off there, and only there."""
    settings = services.settings
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _QuietTokenWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_QuietTokenWarning())
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client,
        process_before_response=True,  # ack is immediate anyway; avoids bolt's 10 ms ack polling
        ignoring_self_events_enabled=True,
        url_verification_enabled=True,
        request_verification_enabled=not verified_upstream,
    )
    app.error(_on_error)
    deferred = deferred or Deferred()
    consult = register(app, services.consult, deferred, settings.compliance_contact)
    register_cases(app, consult, services.cases, deferred)
    register_exercises(app, consult, services.exercises, deferred, services.reports)
    register_reflection(app, consult, services.reflection, deferred)
    return app
