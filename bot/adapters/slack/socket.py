"""Socket Mode: the same bolt app, reached over a WebSocket for banks with no inbound HTTP."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.adapters.slack.app import build_slack_app, make_client
from bot.bootstrap import Services

log = logging.getLogger(__name__)


async def run_socket_mode(services: Services, stop: asyncio.Event | None = None) -> None:
    """Connect and serve until `stop` is set (forever when None)."""
    settings = services.settings
    async with aiohttp.ClientSession() as http:
        client = make_client(settings.slack_bot_token, settings.slack_api_url, http)
        app = build_slack_app(services, client)
        handler = AsyncSocketModeHandler(app, settings.slack_app_token, web_client=client)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack over Socket Mode")
        try:
            await (stop.wait() if stop else asyncio.Event().wait())
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
