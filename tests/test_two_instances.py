"""Two real `ethicsbot serve` processes on one PostgreSQL database behind an alternating
"load balancer": every request goes to the other instance than the one before. Walks,
escalations, officer actions, exercise answers and scheduler ticks stay consistent; every
card and exercise post reaches Slack once; the audit chain verifies; and when one instance is
killed with SIGKILL while posting a card, the other takes the row over when its lease runs
out, reconciles, and finishes the work without posting anything twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.slack import case_blocks as CB
from tests.conftest import FIXTURE_CONTENT, PG_OK
from tests.fakes.slack_api import FakeSlack
from tests.harness import Reply, SlackBot, buttons, eventually, slack_env
from tests.serving import Serve, pg_database, pg_url, run_cli
from tests.test_cases import card_action, card_posts, report_submission, walk_to_required
from tests.test_exercises import answer_click, posts

pytestmark = pytest.mark.skipif(not PG_OK, reason="PostgreSQL not reachable on 127.0.0.1:5432")

TOKENS = ("xoxb-instance-a", "xoxb-instance-b")  # who made a Web API call, as Slack sees it
SERVED = 20  # A is killed only once both instances have answered at least this many requests


class Alternating(SlackBot):
    """Sends each request to the next live instance, as a round-robin load balancer does."""

    def __init__(self, servers: list[Serve], fake: FakeSlack) -> None:
        super().__init__(services=None, fake=fake)  # type: ignore[arg-type]
        self.servers = servers
        self.turn = 0
        # requests each instance answered (a reply came back), so the test can wait until
        # both have provably served some before it kills one
        self.served: dict[str, int] = {s.url: 0 for s in servers}

    async def start(self) -> Alternating:
        self.http = aiohttp.ClientSession()
        return self

    def _next(self) -> str:
        live = [s for s in self.servers if s.proc is not None and s.proc.poll() is None]
        self.turn += 1
        return live[self.turn % len(live)].url

    async def post(self, body: str, headers: dict[str, str] | None = None, **kw: Any) -> Reply:
        self.url = url = self._next()
        reply = await super().post(body, headers, **kw)
        self.served[url] += 1
        return reply


async def _report(bot: Alternating, fake: FakeSlack, user: str, mode: str) -> None:
    try:
        view = await walk_to_required(bot, fake, user)
    except (TimeoutError, aiohttp.ClientConnectionError):
        # the walk's instance was killed between its ack and its modal: as a person would,
        # type /ethics again (it reaches the instance that is still alive); what the test
        # checks is that committed work is finished once, not that a dying ack opens a modal
        view = await walk_to_required(bot, fake, user)
    body = report_submission(view, mode, user=user, passphrase="correct horse battery")
    from tests.fakes.signing import interactive_body

    try:
        r = await bot.post(interactive_body(body))
        assert r.status == 200 and "is recorded" in str(r.json())
    except aiohttp.ClientConnectionError:
        pass  # the instance died after committing; the case must still arrive


def _cases(fake: FakeSlack) -> list[str]:
    return [buttons(c.args)[CB.CASE_ACK] for c in card_posts(fake)]


async def test_two_instances_share_the_work_and_one_finishes_after_the_other_dies(
    fake: FakeSlack, tmp_path: Path
) -> None:
    with pg_database() as name:
        url = pg_url(name)
        base = slack_env(
            url,
            fake.url,
            FIXTURE_CONTENT,
            ETHICSBOT_DISPATCH_INTERVAL="0.05",
            ETHICSBOT_OUTBOX_LEASE="1",
            ETHICSBOT_LOG_LEVEL="info",
        )
        servers = [
            Serve({**base, "SLACK_BOT_TOKEN": token}, tmp_path / f"{token}.log") for token in TOKENS
        ]
        a, b = servers
        await asyncio.gather(a.start(), b.start())  # both migrate at once: one waits
        bot = await Alternating(servers, fake).start()
        try:
            # a one-off exercise due now; two cron ticks race for it, and both servers' timers
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            done = run_cli(
                base,
                "exercise", "schedule", "--channel", "CTRAIN", "--exercise", "ex-mini-1",
                "--post", now.strftime("%Y-%m-%dT%H:%M"),
                "--reveal", (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                "--tz", "UTC",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            ticks = [
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "exercise", "tick"],
                    env={**__import__("os").environ, **base},
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            ticked = [json.loads(t.communicate(timeout=60)[0]) for t in ticks]
            assert sum(t["posted"] for t in ticked) <= 1
            await eventually(lambda: len(posts(fake)) == 1, timeout=30)

            # three people walk and speak up, every click on the other instance
            for i, mode in enumerate(("named", "confidential", "anonymous")):
                await _report(bot, fake, f"UA{i}", mode)
            await eventually(lambda: len(card_posts(fake)) == 3, timeout=20)
            # officers acknowledge; staff answer the exercise
            for case_id in _cases(fake):
                r = await bot.post(card_action(CB.CASE_ACK, case_id, "UOFFICER1"))
                assert r.status == 200
            for i in range(6):
                r = await bot.post(answer_click(fake, posts(fake)[0], i % 3, f"UV{i}"))
                assert r.status == 200
            await eventually(lambda: len(fake.of("response_url")) == 6)
            await eventually(lambda: len({c.args["ts"] for c in fake.of("chat.update")}) >= 3)

            # instance A dies inside its next card post: Slack has the card, A never hears back.
            # It dies only once both instances have answered SERVED requests, so that "both
            # really served" below follows from the script, not from when A happens to die.
            killed: list[int] = []

            def both_served() -> bool:
                return min(bot.served.values()) >= SERVED

            def kill_a(args: dict[str, Any]) -> None:
                call = fake.calls[-1]
                if (
                    not killed
                    and both_served()
                    and call.token == TOKENS[0]
                    and args.get("channel") == "CCOMPLY"
                    and not args.get("thread_ts")
                ):
                    killed.append(len(card_posts(fake)))
                    a.kill()

            fake.hooks["chat.postMessage"] = kill_a
            modes, reports = ("named", "anonymous", "named", "confidential"), 0
            while not killed and (reports < len(modes) or not both_served()):
                await _report(bot, fake, f"UB{reports}", modes[reports % len(modes)])
                reports += 1
            if not killed:  # B delivered every card so far: kill A between requests instead
                assert both_served()
                a.kill()
                killed.append(len(card_posts(fake)))
            fake.hooks.clear()
            for i in range(2):  # the rest goes to B alone
                await _report(bot, fake, f"UC{i}", "named")
            await eventually(lambda: len(set(_cases(fake))) >= 6, timeout=30)
            await asyncio.sleep(3.0)  # beyond the 1 s lease: a duplicate would have come by now
            for case_id in _cases(fake)[3:]:
                r = await bot.post(card_action(CB.CASE_ACK, case_id, "UOFFICER2"))
                assert r.status == 200
            tick = run_cli(base, "exercise", "tick")  # a late cron tick posts nothing again
            assert json.loads(tick.stdout)["posted"] == 0
            await asyncio.sleep(1.0)
        finally:
            await bot.stop()
            await asyncio.gather(*(s.aclose() for s in servers))

        verified = run_cli(base, "audit", "verify")
        exported = run_cli(base, "cases", "export", "--format", "json")
        results = run_cli(base, "exercise", "results", "--format", "json")
    cases = json.loads(exported.stdout)["cases"]
    ids = _cases(fake)
    assert len(ids) == len(set(ids)) == len(cases)  # every case's card posted exactly once
    assert len(posts(fake)) == 1  # and the exercise once
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(results.stdout)[0]["answers"] == 6
    assert {c["status"] for c in cases} == {"acknowledged"}
    assert killed  # A died mid-run (inside a card post, or between requests)
    assert bot.served[a.url] >= SERVED and bot.served[b.url] >= SERVED  # both really served
    # the killed instance's row was taken over: B looked for the card before posting again
    assert fake.of("conversations.history")
