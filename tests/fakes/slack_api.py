"""A fake Slack Web API on 127.0.0.1: real HTTP, records every call, can fail on purpose.

Point the real AsyncWebClient at it with SLACK_API_URL=http://127.0.0.1:PORT/api/ and
assert on what it received ("one views.update showing Step 2 of 4").
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from tests.fakes.local import serve


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str


@dataclass
class Failure:
    status: int
    remaining: int
    retry_after: int | None = None
    error: str = ""


@dataclass
class FakeSlack:
    locales: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition | None = None
    # called after a call is recorded and before it is answered (e.g. to kill the caller)
    hooks: dict[str, Any] = field(default_factory=dict)
    sockets: list[Any] = field(default_factory=list)
    # files.getUploadURLExternal -> upload (bytes) -> files.completeUploadExternal
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    url: str = ""

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def fail(
        self, method: str, status: int, times: int, retry_after: int | None = None, error: str = ""
    ) -> None:
        self.failures[method] = Failure(status, times, retry_after, error)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.of(method)) >= count), timeout
            )
        return self.of(method)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if request.method == "GET":
            args = dict(request.query)
        elif request.content_type == "application/json":
            args = json.loads(raw or b"{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if request.method == "POST":
            args = {**dict(request.query), **args}  # slack_sdk sends `params=` in the query
        for key in ("view", "blocks", "metadata"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        failure = self.failures.get(method)
        if failure and failure.remaining > 0:
            failure.remaining -= 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            self.calls.append(Call(method + "!failed", args, token))
            return web.json_response(
                {"ok": False, "error": failure.error or "fake_failure"},
                status=failure.status,
                headers=headers,
            )
        self.calls.append(Call(method, args, token))
        body = self._answer(method, args)
        hook = self.hooks.get(method)
        if hook is not None:
            hook(args)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(body)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        """Socket Mode: say hello, push queued envelopes, record the app's acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
        )
        self.sockets.append(ws)
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                self.calls.append(Call("socket.ack", json.loads(message.data), ""))
                assert self._changed is not None
                async with self._changed:
                    self._changed.notify_all()
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope to every connected Socket Mode client."""
        for ws in self.sockets:
            await ws.send_json(envelope)

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        """Slack's response_url: replies to a click (ephemeral or replacing the message)."""
        self.calls.append(Call("response_url", await request.json(), ""))
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return web.json_response({"ok": True})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL files.getUploadURLExternal hands out: takes the raw bytes."""
        stored = self.files.get(request.match_info["fid"])
        data = await request.read()
        if stored is None or len(data) != stored["length"]:
            return web.Response(status=400, text="bad upload")
        stored["data"] = data
        self.calls.append(Call("upload", {"file_id": stored["id"], "size": len(data)}, ""))
        return web.Response(text="OK - " + str(len(data)))

    def uploaded(self, channel: str) -> list[dict[str, Any]]:
        """Messages in `channel` (threads too) that carry files, with the files' bytes."""
        out = []
        for m in self.messages.get(channel, []):
            for f in m.get("files") or []:
                out.append({**f, "data": self.files[f["id"]]["data"], "message": m})
        return out

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": "T1",
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "url": "https://fake.slack/",
                "team": "Fake Bank",
            }
        if method in ("views.open", "views.update", "views.push", "views.publish"):
            view = dict(args.get("view") or {})
            view.setdefault("id", args.get("view_id") or f"V{next(self._ts)}")
            return {"ok": True, "view": view}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            channel = str(args.get("channel"))
            msg = {
                "ts": ts,
                "text": args.get("text"),
                "blocks": args.get("blocks"),
                "metadata": args.get("metadata"),
                "thread_ts": args.get("thread_ts"),
            }
            self.messages.setdefault(channel, []).append(msg)
            return {"ok": True, "channel": channel, "ts": ts, "message": msg}
        if method == "chat.update":
            channel = str(args.get("channel"))
            for m in self.messages.get(channel, []):
                if m["ts"] == args.get("ts"):
                    m.update(text=args.get("text"), blocks=args.get("blocks"))
            return {"ok": True, "channel": channel, "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "conversations.history":
            msgs = [
                m
                for m in reversed(self.messages.get(str(args.get("channel")), []))
                if not m.get("thread_ts")
            ]
            return {"ok": True, "messages": msgs, "has_more": False}
        if method == "conversations.replies":
            ts = args.get("ts")
            msgs = [
                m
                for m in self.messages.get(str(args.get("channel")), [])
                if m["ts"] == ts or m.get("thread_ts") == ts
            ]
            return {"ok": True, "messages": msgs, "has_more": False}
        if method == "files.getUploadURLExternal":
            if not args.get("filename") or not int(args.get("length") or 0):
                return {"ok": False, "error": "invalid_arguments"}
            fid = f"F{next(self._ts):06d}"
            self.files[fid] = {
                "id": fid,
                "name": args["filename"],
                "length": int(args["length"]),
                "alt_txt": args.get("alt_txt"),
                "data": None,
            }
            return {
                "ok": True,
                "file_id": fid,
                "upload_url": self.url.replace("/api/", f"/upload/{fid}"),
            }
        if method == "files.completeUploadExternal":
            listed = json.loads(args.get("files") or "[]")
            if any(
                f["id"] not in self.files or self.files[f["id"]]["data"] is None for f in listed
            ):
                return {"ok": False, "error": "file_not_found"}
            shared = []
            for f in listed:
                stored = self.files[f["id"]]
                stored["title"] = f.get("title")
                shared.append({k: v for k, v in stored.items() if k != "data"})
            channel = str(args.get("channel_id"))
            ts = f"1700000000.{next(self._ts):06d}"
            self.messages.setdefault(channel, []).append(
                {
                    "ts": ts,
                    "text": args.get("initial_comment") or "",
                    "files": shared,
                    "thread_ts": args.get("thread_ts"),
                }
            )
            return {"ok": True, "files": shared}
        if method == "users.info":
            user = str(args.get("user"))
            return {"ok": True, "user": {"id": user, "locale": self.locales.get(user, "en-US")}}
        if method == "apps.connections.open":
            return {
                "ok": True,
                "url": self.url.replace("http://", "ws://").replace("/api/", "/link"),
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))}}
        return {"ok": False, "error": "unknown_method"}

    def routes(self, app: web.Application) -> None:
        """The routes Slack would answer; subclasses add read-outs of their own."""
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_post("/upload/{fid}", self._upload)
        app.router.add_get("/link", self._socket)

    async def start(self, port: int = 0) -> str:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        self.routes(app)
        self.runner, port = await serve(app, port)
        self.url = f"http://127.0.0.1:{port}/api/"
        return self.url

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
