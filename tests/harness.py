"""A whole bot to talk to in tests: the real web app on 127.0.0.1 and a fake Slack."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.service import Clock
from bot.web import build_web_app
from tests.conftest import FIXTURE_CONTENT
from tests.fakes.local import serve
from tests.fakes.signing import (
    SECRET,
    block_action,
    command_body,
    event_body,
    interactive_body,
    signed_headers,
    view_submission,
)
from tests.fakes.slack_api import FakeSlack


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackBot:
    """Drives the real server with signed requests, as Slack would."""

    def __init__(self, services: Services, fake: FakeSlack) -> None:
        self.services = services
        self.fake = fake
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> SlackBot:
        self.runner, port = await serve(build_web_app(self.services))
        self.url = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self.http:
            await self.http.close()
        if self.runner:
            await self.runner.cleanup()

    async def post(
        self,
        body: str,
        headers: dict[str, str] | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Reply:
        assert self.http is not None
        hdrs = headers if headers is not None else signed_headers(body, content_type=content_type)
        async with self.http.post(
            self.url + "/slack/events", data=body.encode(), headers=hdrs
        ) as r:
            return Reply(r.status, await r.text())

    async def command(self, text: str = "", user: str = "U1") -> Reply:
        return await self.post(command_body(text, user=user))

    async def click(self, action_id: str, value: str, **kw: Any) -> Reply:
        return await self.post(interactive_body(block_action(action_id, value, **kw)))

    async def submit(self, metadata: str, text: str | None, **kw: Any) -> Reply:
        return await self.post(interactive_body(view_submission(metadata, text, **kw)))

    async def event(self, event: dict[str, Any], event_id: str = "Ev1") -> Reply:
        return await self.post(event_body(event, event_id), content_type="application/json")

    async def get(self, path: str) -> Reply:
        assert self.http is not None
        async with self.http.get(self.url + path) as r:
            return Reply(r.status, await r.text())


def buttons(view: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of every button in a view or message."""
    found = {}
    for b in view.get("blocks", []):
        for e in [b.get("accessory") or {}, *(b.get("elements") or [])]:
            if e.get("type") == "button":
                found[e["action_id"]] = e.get("value", "")
    return found


def put_back(services: Services, kind: str) -> bool:
    """Whether an outbox row of `kind` has failed and waits for its next attempt. A test that
    moves the fake clock past the back-off must wait for this first: the back-off counts from
    the clock as it is when the worker puts the row back, which may be after the move."""
    from sqlalchemy import text

    with services.db.read() as s:
        sql = "SELECT count(*) FROM outbox WHERE kind = :k AND last_error IS NOT NULL"
        return bool(s.execute(text(sql), {"k": kind}).scalar())


def drained(services: Services) -> bool:
    """Whether every outbox row is delivered (none pending). A test that jumps the fake clock
    by days must wait for this first: a delivery still in flight at the jump finds its lease
    expired in the new time, and the other instance takes the row over mid-delivery, which a
    real clock never does."""
    from sqlalchemy import text

    with services.db.read() as s:
        sql = "SELECT count(*) FROM outbox WHERE status = 'pending'"
        return not s.execute(text(sql)).scalar()


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `check()` holds (work after Slack's ack runs as a background task)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def slack_env(
    db_url: str, fake_url: str, content: Path = FIXTURE_CONTENT, **extra: str
) -> dict[str, str]:
    env = {
        "DATABASE_URL": db_url,
        "ETHICSBOT_CONTENT": str(content),
        "ETHICSBOT_SECRET_KEY": "test-pseudonym-key",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": fake_url,
        "COMPLIANCE_SLACK_CHANNEL": "CCOMPLY",
        "COMPLIANCE_SLACK_USERS": "UOFFICER1,UOFFICER2",
        "TRAINER_SLACK_USERS": "UTRAINER",
    }
    env.update(extra)
    return env


async def start_bot(
    db_url: str,
    fake: FakeSlack,
    content: Path = FIXTURE_CONTENT,
    clock: Clock | None = None,
    **extra: str,
) -> SlackBot:
    settings = Settings.from_env(slack_env(db_url, fake.url, content, **extra))
    services = bootstrap(settings, clock=clock) if clock else bootstrap(settings)
    return await SlackBot(services, fake).start()
