"""The one web process: it hosts, the adapters mount.

Each platform the settings enable adds its own routes and outbox worker through
`bot.adapters.<platform>.mount`; this module knows no platform, so a bank on Slack, on Teams
or on both runs the same server. Liveness, readiness, metrics and the access log (`bot/ops`),
the timers (case reminders, the exercise scheduler:
one per process, whatever the platforms) and the database pool live here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging

from aiohttp import web

from bot.bootstrap import Services
from bot.config import Settings
from bot.delivery.worker import run_timers
from bot.ops import readiness
from bot.ops.access import METRICS, access_log
from bot.ops.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SERVICES = web.AppKey("services", Services)
STOP = web.AppKey("stop", asyncio.Event)
TASKS = web.AppKey("tasks", list)
READY_TIMEOUT = 5.0


async def healthz(request: web.Request) -> web.StreamResponse:
    """Liveness: the process answers. No database, so a database outage never makes an
    orchestrator restart every instance at once (that is what /readyz is for)."""
    services = request.app[SERVICES]
    return web.json_response(
        {"status": "ok", "platforms": list(services.settings.platforms or ("slack",))}
    )


async def readyz(request: web.Request) -> web.StreamResponse:
    """Readiness: 200 when this instance can serve, else 503 naming the failing check."""
    services = request.app[SERVICES]
    try:
        state = await asyncio.wait_for(
            asyncio.to_thread(readiness.check, services.db, services.content), READY_TIMEOUT
        )
    except TimeoutError:
        state = readiness.Readiness(
            False, {"database": f"no answer within {READY_TIMEOUT:g} s", "schema": "unknown"}
        )
    if not state.ready:
        log.warning("not ready: %s", ", ".join(f"{k} {v}" for k, v in state.checks.items()))
    return web.json_response(state.as_json(), status=200 if state.ready else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    body = await asyncio.to_thread(request.app[METRICS].render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def build_web_app(services: Services) -> web.Application:
    """The aiohttp application with every configured platform mounted."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[access_log])
    app[SERVICES] = services
    app[METRICS] = Metrics(services.db, services.clock)

    async def start(app: web.Application) -> None:
        app[STOP] = asyncio.Event()
        app[TASKS] = []
        if services.settings.dispatcher:
            app[TASKS].append(asyncio.create_task(run_timers(services, app[STOP])))

    async def stop(app: web.Application) -> None:
        app[STOP].set()
        try:
            for task in app[TASKS]:
                await asyncio.wait_for(task, 20)
        finally:
            services.db.dispose()

    # aiohttp runs both signals in order: the host starts first and cleans up last, after
    # every adapter has drained its work, so the database pool is disposed of only then
    app.on_startup.append(start)
    for platform in services.settings.platforms or ("slack",):
        importlib.import_module(f"bot.adapters.{platform}.mount").mount(app, services)
    app.on_cleanup.append(stop)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def run(settings: Settings, services: Services, host: str, port: int, *, reuse_port: bool) -> None:
    """Serve until SIGTERM/SIGINT; says at start which platforms are live."""
    log.warning(
        "ethicsbot serving on %s:%d; platforms live: %s",
        host,
        port,
        ", ".join(settings.platforms) or "none",
    )
    escalation = services.content.content.escalation
    for warning in settings.start_warnings(escalation.routing.get("default", "")):
        log.warning("%s", warning)
    web.run_app(
        build_web_app(services),
        host=host,
        port=port,
        print=None,
        access_log=None,
        reuse_port=reuse_port,
    )
