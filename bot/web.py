"""The one web process: it hosts, the adapters mount.

Each platform the settings enable adds its own routes and outbox worker through
`bot.adapters.<platform>.mount`; this module knows no platform, so a bank on Slack, on Teams
or on both runs the same server. Health, the timers (case reminders, the exercise scheduler:
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

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SERVICES = web.AppKey("services", Services)
STOP = web.AppKey("stop", asyncio.Event)
TASKS = web.AppKey("tasks", list)


async def healthz(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        await asyncio.to_thread(services.db.ping)
    except Exception as exc:  # the health check must answer, whatever the database does
        log.error("health check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    return web.json_response(
        {
            "status": "ok",
            "database": "ok",
            "trees": len(services.content.trees),
            "content_problems": len(services.content.problems),
            "platforms": list(services.settings.platforms),
        }
    )


def build_web_app(services: Services) -> web.Application:
    """The aiohttp application with every configured platform mounted."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SERVICES] = services

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
    return app


def run(settings: Settings, services: Services, host: str, port: int, *, reuse_port: bool) -> None:
    """Serve until SIGTERM/SIGINT; says at start which platforms are live."""
    log.warning(
        "ethicsbot serving on %s:%d; platforms live: %s",
        host,
        port,
        ", ".join(settings.platforms) or "none",
    )
    web.run_app(
        build_web_app(services),
        host=host,
        port=port,
        print=None,
        access_log=None,
        reuse_port=reuse_port,
    )
