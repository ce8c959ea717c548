"""A fake Bot Connector on 127.0.0.1, and the pieces to drive the real Teams endpoint.

The bot is sent activities on its real `/api/messages` with a `serviceUrl` pointing here;
everything it posts back (new messages, replies, PUT updates) is captured with the bearer
token it carried. Faults can be queued (429 with Retry-After, 500, a slow answer), and the
fake also serves a JWKS so tests can sign Bot Framework tokens with a local RSA key.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration
from microsoft_agents.hosting.core.authorization.anonymous_token_provider import (
    AnonymousTokenProvider,
)

from tests.fakes.local import serve

BF_ISSUER = "https://api.botframework.com"
APP_ID = "00000000-0000-0000-0000-0000000a99e1"
TENANT = "11111111-2222-3333-4444-555555555555"
OUTBOUND_TOKEN = "stub-outbound-token"


@dataclass
class Posted:
    method: str  # POST or PUT
    conversation: str
    activity_id: str  # the activity replied to (POST …/{id}) or replaced (PUT), else ""
    body: dict[str, Any]
    auth: str

    @property
    def card(self) -> dict[str, Any]:
        return self.body["attachments"][0]["content"]


@dataclass
class Fault:
    status: int = 0  # 0: answer normally after `delay`
    retry_after: str | None = None
    delay: float = 0.0
    # the activity IS recorded (in the conversation) at once; only the answer waits `delay`
    accept: bool = False


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Keys:
    """An RSA signing key and the JWKS that publishes it, like the Bot Framework's."""

    def __init__(self, kid: str = "local-key") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self.private.public_key().public_numbers()
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": kid,
                    "alg": "RS256",
                    "n": _b64(pub.n),
                    "e": _b64(pub.e),
                }
            ]
        }

    def token(
        self, *, aud: str = APP_ID, iss: str = BF_ISSUER, service_url: str = "", **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {"iss": iss, "aud": aud, "iat": now, "nbf": now - 10, "exp": now + 3600}
        if service_url:
            payload["serviceurl"] = service_url
        payload.update(claims)
        return jwt.encode(payload, self.private, algorithm="RS256", headers={"kid": self.kid})


def unsigned_token(aud: str = APP_ID) -> str:
    """`alg: none`: a token with no signature at all."""
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "local-key"}).encode())
    body = base64.urlsafe_b64encode(
        json.dumps({"iss": BF_ISSUER, "aud": aud, "exp": int(time.time()) + 600}).encode()
    )
    return f"{head.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}."


class StubTokens(AnonymousTokenProvider):
    """The outbound token source in tests: a fixed string, no call to Entra."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return OUTBOUND_TOKEN


class StubConnections:
    """The SDK's `Connections` protocol with one configured connection and stub tokens."""

    def __init__(self, client_id: str = APP_ID, anonymous: bool = False) -> None:
        self.config = AgentAuthConfiguration(
            client_id=client_id or None,
            tenant_id=TENANT,
            client_secret="unused",
            anonymous_allowed=anonymous,
        )
        self.provider = StubTokens()

    def get_connection(self, connection_name: str) -> StubTokens:
        return self.provider

    def get_default_connection(self) -> StubTokens:
        return self.provider

    def get_token_provider(self, claims_identity: Any, service_url: str) -> StubTokens:
        return self.provider

    def get_token_provider_from_activity(self, claims_identity: Any, activity: Any) -> StubTokens:
        return self.provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self.config


@dataclass
class FakeConnector:
    posted: list[Posted] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    keys: Keys = field(default_factory=Keys)
    runner: web.AppRunner | None = None
    url: str = ""
    attempts: int = 0  # every request, including the faulted ones
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition | None = None

    @property
    def service_url(self) -> str:
        return self.url + "/"

    @property
    def jwks_url(self) -> str:
        return self.url + "/keys"

    def fault(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    async def start(self, port: int = 0) -> FakeConnector:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/v3/conversations/{conv}/activities", self._post)
        app.router.add_post("/v3/conversations/{conv}/activities/{aid}", self._post)
        app.router.add_put("/v3/conversations/{conv}/activities/{aid}", self._post)
        app.router.add_get("/keys", self._keys)
        app.router.add_get("/_posted", self._posted)
        self.runner, port = await serve(app, port)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Posted]:
        """Wait until `count` activities were accepted in all."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.posted) >= count), timeout
            )
        return self.posted

    async def _posted(self, request: web.Request) -> web.Response:
        """What the bot sent so far (scripts/teams_send.py reads the last card here)."""
        return web.json_response(
            [
                {"method": p.method, "conversation": p.conversation, "body": p.body}
                for p in self.posted
            ]
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response(self.keys.jwks)

    async def _post(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.faults and self.faults[0].accept:
            fault = self.faults.pop(0)
            answer = await self._accept(request)
            await asyncio.sleep(fault.delay)
            return answer
        if self.faults:
            fault = self.faults.pop(0)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response(
                    {"error": {"code": "fault"}}, status=fault.status, headers=headers
                )
        return await self._accept(request)

    async def _accept(self, request: web.Request) -> web.Response:
        body = await request.json()
        conv = request.match_info["conv"]
        aid = request.match_info.get("aid", "")
        assert self._changed is not None
        async with self._changed:
            self.posted.append(
                Posted(request.method, conv, aid, body, request.headers.get("Authorization", ""))
            )
            self._changed.notify_all()
        new_id = aid if request.method == "PUT" else f"act-{next(self._ids)}"
        return web.json_response({"id": new_id})


# -- activities as Teams sends them ------------------------------------------------------------


def user(aad: str = "aad-user-1") -> dict[str, Any]:
    return {"id": f"29:{aad}", "aadObjectId": aad, "name": "A colleague"}


def activity(
    service_url: str,
    kind: str,
    *,
    aad: str = "aad-user-1",
    locale: str = "en-US",
    conversation: str | None = None,
    conversation_type: str = "personal",
    **fields: Any,
) -> dict[str, Any]:
    conv = conversation or f"a:personal-{aad}"
    body: dict[str, Any] = {
        "type": kind,
        "id": fields.pop("id", None) or f"f:{uuid.uuid4().hex}",
        "timestamp": "2026-12-07T09:00:00.000Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": user(aad),
        "recipient": {"id": f"28:{APP_ID}", "name": "EthicsBot"},
        "conversation": {"id": conv, "conversationType": conversation_type, "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": locale,
    }
    body.update(fields)
    return body


def message(service_url: str, text: str, **kw: Any) -> dict[str, Any]:
    return activity(service_url, "message", text=text, **kw)


def installed(service_url: str, **kw: Any) -> dict[str, Any]:
    """The conversationUpdate Teams sends when a user adds the app in personal scope."""
    return activity(
        service_url,
        "conversationUpdate",
        membersAdded=[{"id": f"28:{APP_ID}"}],
        **kw,
    )


def click(
    service_url: str, action: dict[str, Any], inputs: dict[str, str] | None = None, **kw: Any
) -> dict[str, Any]:
    """The invoke Teams sends for an Action.Execute (inputs merged into its data)."""
    data = {**action.get("data", {}), **(inputs or {})}
    return activity(
        service_url,
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": action["verb"], "data": data}},
        **kw,
    )


# -- the real server, driven as Teams would ---------------------------------------------------


def teams_env(db_url: str, content: Any, *, anonymous: bool = True, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": db_url,
        "ETHICSBOT_CONTENT": str(content),
        "ETHICSBOT_SECRET_KEY": "test-pseudonym-key",
        "ETHICSBOT_DISPATCH_INTERVAL": "0.05",
    }
    if anonymous:
        env["CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED"] = "true"
    else:
        env.update(
            {
                "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": APP_ID,
                "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "test-secret",
                "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": TENANT,
            }
        )
    env.update(extra)
    return env


@dataclass
class Answer:
    status: int
    body: Any

    @property
    def card(self) -> dict[str, Any]:
        """The refreshed card of an Action.Execute answer."""
        assert self.status == 200, self.status
        assert self.body["type"] == "application/vnd.microsoft.card.adaptive", self.body
        return self.body["value"]


class TeamsBot:
    """The real web app (bot.web) on 127.0.0.1 with the Teams adapter mounted."""

    def __init__(self, services: Any, fake: FakeConnector, *, signed: bool = False) -> None:
        self.services = services
        self.fake = fake
        self.signed = signed
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.http: Any = None

    async def start(self) -> TeamsBot:
        import aiohttp

        from bot.adapters.teams import mount as M
        from bot.web import build_web_app

        app = build_web_app(self.services)
        if self.signed:
            app[M.CONNECTIONS] = StubConnections()  # type: ignore[assignment]
            app[M.JWKS_URL] = self.fake.jwks_url
        self.runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self.http:
            await self.http.close()
        if self.runner:
            await self.runner.cleanup()

    async def post(self, body: Any, token: str | None = None, raw: bytes | None = None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if token is None and self.signed:
            token = self.fake.keys.token(service_url=self.fake.service_url)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.http.post(self.url + "/api/messages", data=data, headers=headers) as r:
            text = await r.text()
            return Answer(r.status, json.loads(text) if text else None)

    async def say(self, text: str, **kw: Any) -> dict[str, Any]:
        """Type a message in the personal chat; returns the card the bot answered with."""
        before = len(self.fake.posted)
        answer = await self.post(message(self.fake.service_url, text, **kw))
        assert answer.status in (200, 202), answer
        posted = await self.fake.wait_for(before + 1)
        return posted[before].card

    async def press(
        self, action: dict[str, Any], inputs: dict[str, str] | None = None, **kw: Any
    ) -> Answer:
        return await self.post(click(self.fake.service_url, action, inputs, **kw))


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Execute of a card, in reading order (body first, then the card's own)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for key, value in node.items():
                if key != "actions" or node.get("type") != "AdaptiveCard":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body", []))
    for a in card.get("actions", []):
        if a.get("type") == "Action.Execute":
            found.append(a)
    return found


def by_verb(card: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [a for a in actions(card) if a["verb"] == verb]


def texts(card: dict[str, Any]) -> str:
    """All visible text of a card, joined (TextBlocks, TextRuns, facts, input labels)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                out.append(str(node.get("text", "")))
            if node.get("type") == "Input.Text":
                out.append(str(node.get("label", "")))
            if "title" in node and "value" in node and not node.get("type"):
                out.append(f"{node['title']}: {node['value']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body", []))
    return "\n".join(out)
