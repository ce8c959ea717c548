"""SIGKILL drills: the real `ethicsbot serve` process killed during an escalation, restarted,
and compliance still gets exactly one card."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import FIXTURE_CONTENT
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, eventually, slack_env
from tests.test_cases import card_posts, report_submission, walk_to_required


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`ethicsbot serve` as its own process, as production runs it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.args: list[str] = []

    async def start(self) -> str:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", *self.args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{self.port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(url + "/healthz") as r:
                        if r.status == 200:
                            return url
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class RemoteBot(SlackBot):
    def __init__(self, url: str, fake: FakeSlack) -> None:
        super().__init__(services=None, fake=fake)  # type: ignore[arg-type]
        self.url = url
        self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.http:
            await self.http.close()


@pytest.mark.parametrize("kill_at", ["after_report", "inside_post", "after_post"])
async def test_sigkill_during_escalation_leaves_exactly_one_card(
    fake: FakeSlack, tmp_path: Path, kill_at: str
) -> None:
    env = slack_env(
        f"sqlite:///{tmp_path / 'crash.db'}",
        fake.url,
        FIXTURE_CONTENT,
        ETHICSBOT_DISPATCH_INTERVAL="0.05",
        ETHICSBOT_OUTBOX_LEASE="1",
    )
    server = Server(env)
    url = await server.start()
    bot = RemoteBot(url, fake)
    try:
        if kill_at == "inside_post":  # Slack has the message; we die before hearing back

            def die(args: dict[str, Any]) -> None:
                if args.get("channel") == "CCOMPLY" and not args.get("thread_ts"):
                    server.kill()

            fake.hooks["chat.postMessage"] = die
        elif kill_at == "after_report":  # hold delivery so the kill lands before it
            fake.fail("chat.postMessage", 500, times=1)
        view = await walk_to_required(bot, fake, "U1")
        try:
            r = await bot.post(interactive_body(report_submission(view, "named", user="U1")))
            assert r.status == 200 and "is recorded" in str(r.json())
        except aiohttp.ServerDisconnectedError:
            # the dispatcher, woken by the commit, reached Slack before the ack went out and
            # the process died there: the case was committed first, so it must still arrive
            assert kill_at == "inside_post"
        if kill_at == "after_report":
            server.kill()
        elif kill_at == "after_post":
            await eventually(lambda: len(card_posts(fake)) == 1)
            server.kill()
        else:
            await eventually(lambda: server.proc is not None and server.proc.poll() is not None)
        fake.hooks.clear()
        await bot.stop()
        url = await server.start()  # the restart
        await asyncio.sleep(2.5)  # beyond the 1 s lease: the new process re-claims the row
        await eventually(lambda: len(card_posts(fake)) == 1, timeout=15)
        await asyncio.sleep(1.0)  # and nothing more arrives later
        assert len(card_posts(fake)) == 1
        if kill_at == "inside_post":
            history = fake.of("conversations.history")
            assert history and history[-1].args.get("include_all_metadata") in ("true", "1", True)
    finally:
        server.stop()
        await bot.stop()


async def test_several_worker_processes_share_one_port(fake: FakeSlack, tmp_path: Path) -> None:
    env = slack_env(f"sqlite:///{tmp_path / 'w.db'}", fake.url, FIXTURE_CONTENT)
    server = Server(env)
    server.args = ["--workers", "2"]
    url = await server.start()
    bot = RemoteBot(url, fake)
    try:
        for i in range(6):
            r = await bot.command("mini", user=f"UW{i}")
            assert r.status == 200
        await eventually(lambda: len(fake.of("views.open")) == 6)
        assert server.proc is not None
        children = subprocess.run(
            ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 2
    finally:
        await bot.stop()
        server.stop()
    assert server.proc is not None and server.proc.returncode == 0

    def gone(pid: str) -> bool:
        status = Path(f"/proc/{pid}/status")
        try:
            return "zombie" in status.read_text()
        except OSError:
            return True

    # the workers (and multiprocessing's helper process) exit soon after the parent
    await eventually(lambda: all(gone(pid) for pid in children), timeout=10)
