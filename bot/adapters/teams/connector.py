"""Our own async client for the Bot Connector REST API (the Teams side of every post).

Why not the SDK's connector client: it opens a client per turn and raises on HTTP 429
instead of retrying. This one shares one `aiohttp.ClientSession` for the whole process,
retries 429 (honouring Retry-After), 5xx and time-outs a bounded number of times, and then
raises `bot.delivery.worker.Retry`, so an outbox row backs off and is tried again later
instead of being lost. Nothing it logs contains a token or a message text.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.delivery.worker import Retry

log = logging.getLogger(__name__)

# the audience and scope of a Bot Connector token (the SDK's AGENTS_SDK_SCOPE)
CONNECTOR_RESOURCE = "https://api.botframework.com"
CONNECTOR_SCOPES = ["https://api.botframework.com/.default"]

Tokens = Callable[[], Awaitable[str]]


class ConnectorError(Exception):
    """The connector refused the call for good (a 4xx other than 429): retrying is useless
    until something changes (the bot was removed from the conversation, a bad payload)."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}")
        self.status = status


async def no_token() -> str:
    """Anonymous (local) mode: the fake connector asks for no token."""
    return ""


class ConnectorClient:
    """Send, reply and update activities in Teams conversations, with bounded retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: Tokens = no_token,
        *,
        attempts: int = 3,
        timeout: float = 15.0,
        max_inline_wait: float = 5.0,
        base_delay: float = 0.25,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.attempts = attempts
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # a Retry-After longer than this is not slept through inline: the outbox waits instead
        self.max_inline_wait = max_inline_wait
        self.base_delay = base_delay

    # -- the three calls ---------------------------------------------------------------------

    async def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
        """Post a new activity to a conversation (a proactive post, or a new message);
        returns the id the connector gave it."""
        url = f"{_base(service_url)}v3/conversations/{quote(conversation_id, safe='')}/activities"
        return await self._call("POST", url, activity, "send")

    async def reply(
        self, service_url: str, conversation_id: str, reply_to_id: str, activity: dict[str, Any]
    ) -> str:
        """Reply to an activity (in a channel: into its thread)."""
        url = (
            f"{_base(service_url)}v3/conversations/{quote(conversation_id, safe='')}"
            f"/activities/{quote(reply_to_id, safe='')}"
        )
        return await self._call("POST", url, {**activity, "replyToId": reply_to_id}, "reply")

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> str:
        """Replace an activity the bot posted earlier (a card updated for everyone)."""
        url = (
            f"{_base(service_url)}v3/conversations/{quote(conversation_id, safe='')}"
            f"/activities/{quote(activity_id, safe='')}"
        )
        return await self._call("PUT", url, {**activity, "id": activity_id}, "update") or (
            activity_id
        )

    # -- retries -----------------------------------------------------------------------------

    async def _call(self, method: str, url: str, body: dict[str, Any], what: str) -> str:
        reason = ""
        retry_after: float | None = None
        for attempt in range(1, self.attempts + 1):
            token = await self.tokens()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                async with self.session.request(
                    method, url, json=body, headers=headers, timeout=self.timeout
                ) as resp:
                    if resp.status < 300:
                        data = await _json(resp)
                        return str(data.get("id") or "")
                    if resp.status == 429:
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
                        reason = "HTTP 429"
                    elif resp.status >= 500:
                        retry_after, reason = None, f"HTTP {resp.status}"
                    else:
                        raise ConnectorError(resp.status, what)
            except (TimeoutError, aiohttp.ClientError) as exc:
                retry_after, reason = None, type(exc).__name__
            if attempt == self.attempts:
                break
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            if wait > self.max_inline_wait:
                break  # too long to hold this call: the outbox will come back
            log.info("teams %s: %s; retry %d in %.2fs", what, reason, attempt, wait)
            await asyncio.sleep(wait)
        after = timedelta(seconds=retry_after) if retry_after is not None else None
        raise Retry(f"teams {what}: {reason}", after)

    def _backoff(self, attempt: int) -> float:
        return float(self.base_delay * (2 ** (attempt - 1)) * (0.5 + random.random()))


def _base(service_url: str) -> str:
    return service_url if service_url.endswith("/") else service_url + "/"


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (delta seconds; an HTTP date or junk -> 1 s)."""
    try:
        return max(0.0, float(value or "1"))
    except ValueError:
        return 1.0


async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await resp.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
