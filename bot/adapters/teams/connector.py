"""Our own async client for the Bot Connector REST API (the Teams side of every post).

Why not the SDK's connector client: it opens a client per turn and raises on HTTP 429
instead of retrying. This one shares one `aiohttp.ClientSession` for the whole process and
retries only what cannot duplicate a post:

- A POST (send, reply) creates an activity and the Bot Connector has no idempotency key, so
  it is retried inline only when Teams certainly did not take it: the connection could not
  be made (`aiohttp.ClientConnectorError`: nothing was sent), 429 (honouring Retry-After)
  and 503 Service Unavailable (with or without Retry-After; the service says it did not
  process the request). Other 5xx are not a definite no: a 500 or a gateway's 502/504 can
  come after the activity was created downstream, so they are not retried inline.
- A time-out or a connection dropped after the request was written is not a no either: the
  activity may be in the conversation and the answer merely late. Such a POST raises
  `Unanswered` (a `Retry`), so the outbox row comes back later with its pending marker kept
  (see `desk_delivery`). On a time-out the request is not cancelled: it is listened to for
  `late_window` seconds more, and a late id is handed to the caller's `late` callback, which
  stores it where the next attempt looks first. `Unanswered.after` holds the row back until
  that window has passed, so the next attempt normally finds the stored id and posts nothing.
- A PUT (update) replaces a known activity: it is idempotent and is retried on anything.

When retries run out the client raises `bot.delivery.worker.Retry`, so an outbox row backs
off and is tried again later instead of being lost. Nothing it logs contains a token or a
message text.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
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
# what to do with an activity id that arrived after the POST had been given up on
Late = Callable[[str], Awaitable[None]]


class ConnectorError(Exception):
    """The connector refused the call for good (a 4xx other than 429): retrying is useless
    until something changes (the bot was removed from the conversation, a bad payload)."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}")
        self.status = status


class Unanswered(Retry):
    """A POST ended without a definite answer (a time-out, a dropped connection, a 5xx other
    than 503): the activity may be in the conversation. Unlike a plain `Retry` this is not
    a "no", so a caller's pending marker must survive it."""


async def no_token() -> str:
    """Anonymous (local) mode: the fake connector asks for no token."""
    return ""


def _seconds(environ: Mapping[str, str], key: str, default: float) -> float:
    try:
        value = float(environ.get(key) or default)
    except ValueError:
        return default
    return value if value > 0 else default


class ConnectorClient:
    """Send, reply and update activities in Teams conversations, with bounded retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: Tokens = no_token,
        *,
        attempts: int = 3,
        timeout: float = 15.0,
        late_window: float = 90.0,
        max_inline_wait: float = 5.0,
        base_delay: float = 0.25,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.attempts = attempts
        # how long a caller waits for an answer, and how long in all a POST that outlived
        # that wait is still listened to (its late id is stored, not lost)
        self.timeout = timeout
        self.late_window = max(late_window, timeout)
        # a Retry-After longer than this is not slept through inline: the outbox waits instead
        self.max_inline_wait = max_inline_wait
        self.base_delay = base_delay
        self._listening: set[asyncio.Task[Any]] = set()

    @classmethod
    def from_environ(
        cls, session: aiohttp.ClientSession, tokens: Tokens, environ: Mapping[str, str]
    ) -> ConnectorClient:
        """The client with its time-outs from ETHICSBOT_TEAMS_TIMEOUT (seconds to wait for an
        answer, default 15) and ETHICSBOT_TEAMS_LATE_WINDOW (seconds a POST is listened to in
        all, default 90): drills and slow tenants can set them without code."""
        return cls(
            session,
            tokens,
            timeout=_seconds(environ, "ETHICSBOT_TEAMS_TIMEOUT", 15.0),
            late_window=_seconds(environ, "ETHICSBOT_TEAMS_LATE_WINDOW", 90.0),
        )

    # -- the three calls ---------------------------------------------------------------------

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        late: Late | None = None,
    ) -> str:
        """Post a new activity to a conversation (a proactive post, or a new message);
        returns the id the connector gave it. `late` receives the id if the answer comes
        only after this call raised `Unanswered` for a time-out."""
        url = f"{_base(service_url)}v3/conversations/{quote(conversation_id, safe='')}/activities"
        return await self._call("POST", url, activity, "send", late)

    async def reply(
        self,
        service_url: str,
        conversation_id: str,
        reply_to_id: str,
        activity: dict[str, Any],
        *,
        late: Late | None = None,
    ) -> str:
        """Reply to an activity (in a channel: into its thread)."""
        url = (
            f"{_base(service_url)}v3/conversations/{quote(conversation_id, safe='')}"
            f"/activities/{quote(reply_to_id, safe='')}"
        )
        body = {**activity, "replyToId": reply_to_id}
        return await self._call("POST", url, body, "reply", late)

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

    async def drain(self, timeout: float) -> None:
        """Give POSTs still listened to up to `timeout` seconds to be answered (at shutdown,
        before the HTTP session closes)."""
        if self._listening:
            await asyncio.wait(set(self._listening), timeout=timeout)

    # -- retries -----------------------------------------------------------------------------

    async def _call(
        self, method: str, url: str, body: dict[str, Any], what: str, late: Late | None = None
    ) -> str:
        idempotent = method == "PUT"
        reason = ""
        retry_after: float | None = None
        for attempt in range(1, self.attempts + 1):
            token = await self.tokens()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            request = asyncio.ensure_future(self._request(method, url, body, headers))
            try:
                status, header, activity_id = await asyncio.wait_for(
                    asyncio.shield(request), self.timeout
                )
            except asyncio.CancelledError:  # our caller is going away: so does the request
                request.cancel()
                raise
            except TimeoutError:
                if not idempotent:
                    # not cancelled: Teams may have the activity and answer late
                    self._listen(request, what, late)
                    raise Unanswered(
                        f"teams {what}: no answer within {self.timeout:g}s",
                        timedelta(seconds=self.late_window + 1),
                    ) from None
                request.cancel()
                retry_after, reason = None, "TimeoutError"
            except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
                retry_after, reason = None, type(exc).__name__
            except aiohttp.ClientError as exc:  # dropped after the request went out
                if not idempotent:
                    raise Unanswered(f"teams {what}: {type(exc).__name__}") from None
                retry_after, reason = None, type(exc).__name__
            else:
                if status < 300:
                    return activity_id
                if status == 429 or (status == 503 and header is not None):
                    retry_after, reason = _retry_after(header), f"HTTP {status}"
                elif status == 503 or (status >= 500 and idempotent):
                    retry_after, reason = None, f"HTTP {status}"
                elif status >= 500:  # may have been created downstream: not a definite no
                    raise Unanswered(f"teams {what}: HTTP {status}")
                else:
                    raise ConnectorError(status, what)
            if attempt == self.attempts:
                break
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            if wait > self.max_inline_wait:
                break  # too long to hold this call: the outbox will come back
            log.info("teams %s: %s; retry %d in %.2fs", what, reason, attempt, wait)
            await asyncio.sleep(wait)
        after = timedelta(seconds=retry_after) if retry_after is not None else None
        raise Retry(f"teams {what}: {reason}", after)

    async def _request(
        self, method: str, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str | None, str]:
        """One HTTP exchange: (status, Retry-After header, activity id). Bounded by the late
        window, not by the caller's time-out, so a slow answer can still be heard."""
        async with self.session.request(
            method,
            url,
            json=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.late_window),
        ) as resp:
            if resp.status < 300:
                data = await _json(resp)
                return resp.status, None, str(data.get("id") or "")
            return resp.status, resp.headers.get("Retry-After"), ""

    def _listen(self, request: asyncio.Future[Any], what: str, late: Late | None) -> None:
        """Keep the timed-out POST running; its id, if it comes, goes to `late`."""

        async def hear() -> None:
            try:
                status, _, activity_id = await request
            except (TimeoutError, aiohttp.ClientError) as exc:
                log.warning("teams %s: no late answer either (%s)", what, type(exc).__name__)
                return
            if status >= 300 or not activity_id:
                log.warning("teams %s: late answer HTTP %d without an activity", what, status)
                return
            if late is None:
                log.warning("teams %s: late answer after the time-out; nothing to store", what)
                return
            try:
                await late(activity_id)
            except Exception as exc:  # the database blipped: the marker protocol remains
                log.error("teams %s: late activity id not stored (%s)", what, type(exc).__name__)
                return
            log.info("teams %s: late answer after the time-out; activity id stored", what)

        task = asyncio.ensure_future(hear())
        self._listening.add(task)
        task.add_done_callback(self._listening.discard)

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
