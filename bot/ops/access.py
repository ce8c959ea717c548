"""The access log: one line per request on logger `bot.access`, and its request id.

A caller's `X-Request-Id` is kept when it looks like an id (so a load balancer's id follows
the request through our lines), otherwise a new one is made; either way it is returned in
the response. The line holds the route pattern, never the path's query, a header or the
body: what staff type and what Slack signs stay out of the logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.ops import logs
from bot.ops.metrics import Metrics

log = logging.getLogger("bot.access")

HEADER = "X-Request-Id"
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
METRICS = web.AppKey("metrics", Metrics)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_of(request: web.Request) -> str:
    """The route's pattern (`/slack/events`), or `unmatched`: bounded, so metric labels and
    log fields cannot be blown up by scanners trying random paths."""
    info = request.match_info
    if isinstance(info, web.UrlMappingMatchInfo) and not info.http_exception:
        canonical = info.route.resource.canonical if info.route.resource else None
        if canonical:
            return canonical
    return "unmatched"


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(HEADER, "")
    rid = given if _ID.match(given) else uuid.uuid4().hex
    token = logs.request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's 404/405/413 are raised, not returned
            exc.headers[HEADER] = rid
            status = exc.status
            raise
        status = response.status
        if not response.prepared:
            response.headers[HEADER] = rid
        return response
    finally:
        latency = (time.perf_counter() - started) * 1000
        route = route_of(request)
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.observe(route, request.method, status, latency / 1000)
        log.info(
            "%s %s %d %.1f ms",
            request.method,
            route,
            status,
            latency,
            extra={
                "route": route,
                "method": request.method,
                "status": status,
                "latency_ms": round(latency, 1),
            },
        )
        logs.request_id.reset(token)
