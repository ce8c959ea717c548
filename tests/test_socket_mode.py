"""`ethicsbot socket`: the same app over Socket Mode, against a fake Socket Mode endpoint."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from bot.adapters.slack.socket import run_socket_mode
from bot.bootstrap import bootstrap
from bot.config import Settings
from tests.fakes.signing import command_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import eventually, slack_env


async def test_socket_mode_answers_a_slash_command(sqlite_url: str) -> None:
    fake = FakeSlack()
    await fake.start()
    env = slack_env(sqlite_url, fake.url, SLACK_APP_TOKEN="xapp-test")
    services = bootstrap(Settings.from_env(env))
    stop = asyncio.Event()
    task = asyncio.create_task(run_socket_mode(services, stop))
    try:
        await eventually(lambda: bool(fake.sockets))
        assert fake.of("apps.connections.open")[0].token == "xapp-test"
        payload = dict(parse_qsl(command_body("mini")))
        await fake.push(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        await eventually(lambda: bool(fake.of("socket.ack")))
        assert fake.of("socket.ack")[0].args["envelope_id"] == "env-1"
        (opened,) = await fake.wait_for("views.open")
        assert "Step 1 of 4" in str(opened.args["view"])
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await fake.stop()
