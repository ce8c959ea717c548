"""Teams' part of the web process: `POST /api/messages`, its connector client and outbox worker.

The Microsoft 365 Agents SDK does the protocol work (CloudAdapter turns, ActivityHandler
routing, MsalConnectionManager tokens from the SDK's own CONNECTIONS__… variables). Around
it, this module adds what the SDK leaves to us: the token check on this route only and
before the body is read (so `/slack/events` is unaffected and a forged request costs
nothing), 400 instead of 500 for a body that is not an activity, a turn-error handler that
never shows exception text, and one shared HTTP session for all outbound calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import Connections

from bot.adapters.teams import cards as C
from bot.adapters.teams.agent import EthicsAgent, as_dict
from bot.adapters.teams.auth import TokenGuard, unauthorized
from bot.adapters.teams.cases import desk_router  # teamsdesk
from bot.adapters.teams.connector import (
    CONNECTOR_RESOURCE,
    CONNECTOR_SCOPES,
    ConnectorClient,
    Tokens,
    no_token,
)
from bot.adapters.teams.consult import locale_lang
from bot.adapters.teams.delivery import TeamsDeliverer
from bot.adapters.teams.references import ConversationStore
from bot.adapters.teams.reflection import wire as wire_reflection
from bot.adapters.teams.text import msg
from bot.bootstrap import Services
from bot.delivery.worker import Retry, Worker
from bot.storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
# at a normal stop, how long late answers to timed-out posts are still waited for: without
# it their ids are lost and the outbox's next attempt posts again, marked "may repeat"
DRAIN_SECONDS = 10.0
# test seams, set on the app before it starts: a stub token source instead of MSAL (no
# network), and a local JWKS instead of the Bot Framework's key set
CONNECTIONS = web.AppKey("teams_connections", Connections)
JWKS_URL = web.AppKey("teams_jwks_url", str)

GUARD = web.AppKey("teams_guard", TokenGuard)
ADAPTER = web.AppKey("teams_adapter", CloudAdapter)
AGENT = web.AppKey("teams_agent", EthicsAgent)
CLIENT = web.AppKey("teams_client", ConnectorClient)
HTTP = web.AppKey("teams_http", aiohttp.ClientSession)
STOP = web.AppKey("teams_stop", asyncio.Event)
TASKS = web.AppKey("teams_tasks", list)


class _NotOurs:
    """Stands where the SDK puts its per-turn connector and user-token clients. Ours never
    uses them (replies go through `ConnectorClient`, click answers in the invoke response,
    no user sign-in), and the SDK's own would cost every turn a new aiohttp session, two
    package-metadata look-ups and, with a client id, two token requests. Anything that
    reaches for one fails loudly instead of sending something unseen."""

    base_uri = ""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # introspection (copy, hasattr of protocols): plain absence
            raise AttributeError(name)
        raise RuntimeError(f"the Agents SDK's own client is not used by EthicsBot ({name})")

    async def close(self) -> None:
        return None


class OwnClients:
    """The `ChannelServiceClientFactoryBase` of our adapter: no SDK client per turn."""

    _unused = _NotOurs()

    async def create_connector_client(self, *args: Any, **kwargs: Any) -> Any:
        return self._unused

    async def create_user_token_client(self, *args: Any, **kwargs: Any) -> Any:
        return self._unused


def sdk_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """The SDK's configuration from its own variable names (CONNECTIONS__…) only: nothing
    else of the environment (tokens of other platforms) is handed to it."""
    return load_configuration_from_env(
        {k: v for k, v in environ.items() if k.startswith(("CONNECTIONS__", "CONNECTIONSMAP__"))}
    )


async def api_messages(request: web.Request) -> web.StreamResponse:
    app = request.app
    claims = await app[GUARD].check(request)  # the header only: nothing of the body read yet
    if claims is None:
        return unauthorized()
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    try:
        body = json.loads(await request.read() or b"null")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        Activity.model_validate(body)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": "body too large"}, status=413)
    except ValueError:  # also pydantic's ValidationError and bad UTF-8
        return web.json_response({"error": "body is not an activity"}, status=400)
    with warnings.catch_warnings():  # the SDK reads this plain string key from the request
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request["claims_identity"] = claims
    response = await app[ADAPTER].process(request, app[AGENT])
    return response if response is not None else web.Response(status=202)


def _turn_error(
    client: ConnectorClient,
) -> Callable[[TurnContext, Exception], Awaitable[None]]:
    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        """Log the type only (never the text: it may quote what someone typed); tell the
        user in our words; for a click, answer with a card so Teams shows no error."""
        log.error("teams turn failed: %s", type(error).__name__)
        activity = as_dict(context.activity)
        lang = locale_lang(activity)  # not the stored choice: the database may be what failed
        key = "db_unavailable" if isinstance(error, StorageUnavailable) else "error"
        card = C.note_card(msg(key, lang), lang)
        if activity.get("type") == ActivityTypes.invoke:
            body = {"statusCode": 200, "type": C.CONTENT_TYPE, "value": card}
            await context.send_activity(
                Activity(type=ActivityTypes.invoke_response, value={"status": 200, "body": body})
            )
            return
        conversation = (activity.get("conversation") or {}).get("id")
        if activity.get("type") == ActivityTypes.message and conversation:
            try:
                await client.send(str(activity.get("serviceUrl")), conversation, C.message(card))
            except (Retry, Exception) as exc:
                log.warning("teams: error notice not delivered (%s)", type(exc).__name__)

    return on_turn_error


def mount(app: web.Application, services: Services) -> None:
    """Add `/api/messages`, and start the adapter, client and worker with the app."""

    async def start(app: web.Application) -> None:
        settings = services.settings
        teams = settings.teams
        assert teams is not None, "mount('teams') without Teams settings"
        connections: Connections = app.get(CONNECTIONS) or MsalConnectionManager(
            **sdk_config(settings.environ)
        )
        config = connections.get_default_connection_configuration()
        if teams.anonymous_allowed:
            log.warning(
                "TEAMS ANONYMOUS MODE: /api/messages accepts requests WITHOUT a Bot Framework "
                "token (CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED). "
                "For local use only; never expose this instance."
            )
        app[GUARD] = TokenGuard(config, jwks_url=app.get(JWKS_URL, ""))
        app[HTTP] = aiohttp.ClientSession()
        tokens: Tokens = no_token
        if teams.client_id:
            provider = connections.get_default_connection()

            async def tokens() -> str:
                return await provider.get_access_token(CONNECTOR_RESOURCE, CONNECTOR_SCOPES)

        app[CLIENT] = client = ConnectorClient.from_environ(app[HTTP], tokens, settings.environ)
        conversations = ConversationStore(services.db, services.clock)
        adapter = CloudAdapter(channel_service_client_factory=OwnClients())
        adapter.on_turn_error = _turn_error(client)
        app[ADAPTER] = adapter
        app[AGENT] = EthicsAgent(
            services.consult, conversations, client, settings.compliance_contact
        )
        app[AGENT].desk = desk_router(services, app[AGENT].h.lang, conversations)  # teamsdesk
        wire_reflection(app[AGENT], services)  # teamsrep: the follow-up's clicks and opt-out
        app[STOP] = asyncio.Event()
        app[TASKS] = []
        if settings.dispatcher:
            worker = Worker(
                services,
                TeamsDeliverer(services, client, conversations),
                interval=settings.dispatch_interval,
                lease=timedelta(seconds=settings.outbox_lease),
            )
            app[TASKS].append(asyncio.create_task(worker.run(app[STOP])))

    async def stop(app: web.Application) -> None:
        app[STOP].set()
        try:
            for task in app[TASKS]:
                await asyncio.wait_for(task, 20)
        finally:
            try:
                # a post that timed out is still listened to: let its late answer (the id the
                # next attempt looks for) arrive before the session closes, within a bound
                await app[CLIENT].drain(min(DRAIN_SECONDS, app[CLIENT].late_window))
            finally:
                await app[HTTP].close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/api/messages", api_messages)
