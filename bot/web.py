"""The one web process: Slack on /slack/events, health on /healthz, room for Teams.

Bad input never reaches a 500: oversized bodies get 413, an interactivity payload that is
not JSON gets 400 before bolt parses it, and bolt itself refuses forged or stale signatures
with 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.app import build_slack_app, make_client
from bot.adapters.slack.delivery import SlackDeliverer
from bot.adapters.slack.listeners import Deferred
from bot.adapters.slack.payloads import problem
from bot.bootstrap import Services
from bot.delivery.worker import Worker, run_timers

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
SERVICES = web.AppKey("services", Services)


async def slack_events(request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    try:
        raw = await request.text()
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": "body too large"}, status=413)
    except UnicodeDecodeError:
        return web.json_response({"error": "body is not UTF-8"}, status=400)
    issue = _payload_problem(request.content_type, raw)
    if issue is not None:
        return web.json_response({"error": issue}, status=400)
    bolt = request.app[SLACK_APP]
    bolt_request = await to_bolt_request(request)
    response = await bolt.async_dispatch(bolt_request)
    return await to_aiohttp_response(response)


def _payload_problem(content_type: str, raw: str) -> str | None:
    """Why a body cannot be handled (not JSON, or missing what listeners rely on), or None."""
    try:
        if content_type == "application/json":
            data = json.loads(raw or "null")
            return "body is not a JSON object" if not isinstance(data, dict) else problem(data)
        form = dict(parse_qsl(raw, keep_blank_values=True))
        if "payload" in form:
            data = json.loads(form["payload"])
            return "payload is not a JSON object" if not isinstance(data, dict) else problem(data)
        if "command" in form:
            return problem(form, command=True)
    except ValueError:
        return "payload is not valid JSON"
    return None


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
        }
    )


SLACK_APP = web.AppKey("slack_app", AsyncApp)
HTTP = web.AppKey("http", aiohttp.ClientSession)
DEFERRED = web.AppKey("deferred", Deferred)
STOP = web.AppKey("stop", asyncio.Event)
TASKS = web.AppKey("tasks", list)


def build_web_app(services: Services) -> web.Application:
    """The aiohttp application; the Slack client and its HTTP session live with it."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SERVICES] = services

    async def start(app: web.Application) -> None:
        settings = services.settings
        app[HTTP] = aiohttp.ClientSession()
        client = make_client(settings.slack_bot_token, settings.slack_api_url, app[HTTP])
        app[DEFERRED] = Deferred(limit=settings.max_backlog)
        app[SLACK_APP] = build_slack_app(services, client, app[DEFERRED])
        app[STOP] = asyncio.Event()
        if settings.dispatcher:
            # no retry handlers here: the dispatcher owns retries, with reconciliation
            plain = AsyncWebClient(
                token=settings.slack_bot_token,
                base_url=settings.slack_api_url,
                session=app[HTTP],
                timeout=15,
            )
            worker = Worker(
                services,
                SlackDeliverer(services, plain),
                interval=settings.dispatch_interval,
                lease=timedelta(seconds=settings.outbox_lease),
            )
            app[TASKS] = [
                asyncio.create_task(worker.run(app[STOP])),
                asyncio.create_task(run_timers(services, app[STOP])),
            ]
        else:
            app[TASKS] = []

    async def stop(app: web.Application) -> None:
        app[STOP].set()
        try:
            for task in app[TASKS]:
                await asyncio.wait_for(task, 20)
            await app[DEFERRED].drain()
        finally:  # whatever the tasks did, close the HTTP session and the pool
            await app[HTTP].close()
            services.db.dispose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    return app
