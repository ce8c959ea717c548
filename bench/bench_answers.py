"""Benchmark: 2,000 weekly-exercise answers arriving within a minute, all recorded once.

Run from the repository root (it puts the root and bench/ on sys.path itself):

    python bench/bench_answers.py                      # SQLite, as fast as possible (c=16)
    python bench/bench_answers.py --rate 40            # 40 clicks/s: 2,200 clicks in 55 s
    python bench/bench_answers.py --database-url postgresql://127.0.0.1:5432/test
    python bench/bench_answers.py --quick              # 200 users (smoke run)

Processes (all bound to 127.0.0.1, all stopped at the end; helpers from bench_slack.py):
  * fake Slack Web API: tests/fakes/slack_api.FakeSlack in its own process, subclassed here
    so that every POST to a response_url (/response/<user>?click=<n>) is stamped with its
    arrival time and listed at GET /_bench/responses; GET /_bench/counts counts the calls;
  * ours: `ethicsbot serve --host 127.0.0.1` on a fresh database (a SQLite file in a temp dir,
    or with --database-url a new PostgreSQL database eb_bench_<random>, dropped at the end);
  * this process: sets the exercise up, then is the load generator (aiohttp).

Set-up, before the server starts, through the service layer in this process:
bootstrap(Settings.from_env(env)), then exercises.schedule("cli:bench", kind "once", the
first shipped exercise, post a minute ago, reveal in an hour, UTC), exercises.tick(), and
exercises.mark(post_id, "posted", {...}): the post is open for answers without the dispatcher
having to deliver it (its outbox row finds the message already set and just completes).

Load: one signed block_actions click per user (U0000 ...), action_id eb.ex.answer:<i>, value
"<post_id>|<option>", its own action_ts and a response_url on the fake. Every 10th user
clicks twice, the second time another option with an action_ts 1 s later; for half of them
the two clicks are sent in that order, back to back (so they race in the server), for the
other half the later click is sent first (Slack does not guarantee order): either way the
later click is the answer that must stay. Default: as fast as the server acks, 16 in
flight; --rate N sends at a steady N clicks/s instead.

Then it waits (bounded) for one response_url confirmation per click at the fake, reads
exercise_answers, and prints throughput, latencies and the checks (rows, duplicates, wrong
final answers, non-200s; and, for the people who clicked twice, whether the last private
confirmation they received names the answer that is stored). It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(Path(__file__).resolve().parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from bench_slack import (  # noqa: E402
    CHILD_LIFETIME_S,
    Children,
    _exit_when_orphaned,
    cpu_seconds,
    free_port,
    read_line,
    system_busy_seconds,
    wait_healthy,
)

from tests.fakes.signing import SECRET, interactive_body, signed_headers  # noqa: E402

TOKEN = "xoxb-bench-token"
TEAM = "T1"
CHANNEL = "CBENCH"
MESSAGE_TS = "1.000001"
TARGET_USERS = 2000
TARGET_SECONDS = 60.0
IDLE_SECONDS = 3.0  # the server's CPU use with no traffic is measured for this long first
_RECORDED = re.compile(r"Your answer: \*([A-Z])\*")


# == child role: the fake Slack ===================================================================


async def role_fake_slack(parent: int) -> None:
    from tests.fakes.slack_api import Call, FakeSlack

    class ResponseFakeSlack(FakeSlack):
        """FakeSlack plus arrival-stamped response_url posts and two read-outs (tests/ is not
        edited): GET /_bench/counts (calls per method) and GET /_bench/responses."""

        def routes(self, app: web.Application) -> None:
            self.responses: list[list[Any]] = []  # [user, click no., monotonic at, text]
            super().routes(app)
            app.router.add_get("/_bench/counts", self._counts)
            app.router.add_get("/_bench/responses", self._responses)

        async def _response_url(self, request: web.Request) -> web.StreamResponse:
            at = time.monotonic()
            try:
                args = await request.json()
            except (ValueError, aiohttp.ContentTypeError):
                args = {"text": "<not json>"}
            self.calls.append(Call("response_url", {}, ""))  # counted, body not kept twice
            self.responses.append([request.match_info["rid"], request.query.get("click", ""),
                                   at, str(args.get("text", "")),
                                   str(args.get("response_type", ""))])
            return web.json_response({"ok": True})

        async def _counts(self, request: web.Request) -> web.StreamResponse:
            return web.json_response(dict(Counter(c.method for c in self.calls)))

        async def _responses(self, request: web.Request) -> web.StreamResponse:
            return web.json_response(self.responses)

    fake = ResponseFakeSlack()
    url = await fake.start()
    print(url, flush=True)
    try:
        await _exit_when_orphaned(parent, CHILD_LIFETIME_S)
    finally:
        await fake.stop()


# == database set-up ==============================================================================


def _plain_pg(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def pg_create(admin_url: str) -> tuple[str, str]:
    """A fresh database next to `admin_url`'s: (its URL, its name)."""
    import psycopg

    name = f"eb_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_plain_pg(admin_url), autocommit=True, connect_timeout=5) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return _with_db(_plain_pg(admin_url), name), name


def pg_drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_plain_pg(admin_url), autocommit=True, connect_timeout=5) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                  (name,))
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class Prepared:
    post_id: str
    exercise_id: str
    options: list[str]
    services: Any  # bot.bootstrap.Services of this process (its Database checks the rows)


def prepare_post(env: dict[str, str]) -> Prepared:
    """Schedule, tick and mark the exercise as posted, through the service layer."""
    from sqlalchemy import text

    from bot.bootstrap import bootstrap
    from bot.config import Settings

    services = bootstrap(Settings.from_env(env))
    x = services.exercises
    exercise_id = sorted(x.exercises())[0]
    now = datetime.now(UTC)
    fmt = "%Y-%m-%dT%H:%M"
    x.schedule("cli:bench", channel=CHANNEL, kind="once", exercise_id=exercise_id,
               post=(now - timedelta(minutes=1)).strftime(fmt),
               reveal=(now + timedelta(hours=1)).strftime(fmt), tz="UTC")
    ticked = x.tick()
    with services.db.tx() as s:
        ids = [r[0] for r in s.execute(text("SELECT id FROM exercise_posts")).all()]
    if len(ids) != 1:
        raise RuntimeError(f"expected one exercise post after the tick, found {len(ids)} "
                           f"(tick said {ticked})")
    post_id = ids[0]
    x.mark(post_id, "posted", {"channel": CHANNEL, "ts": MESSAGE_TS})
    view = x.post(post_id)
    if view.status != "posted":
        raise RuntimeError(f"post {post_id} is {view.status}, not posted")
    return Prepared(post_id, exercise_id, [o.id for o in view.exercise.options], services)


# == load =========================================================================================


@dataclass
class Click:
    n: int  # position in the plan
    user: str
    option: str  # option id ('a', 'b', ...)
    index: int  # the option's position (action_id eb.ex.answer:<index>)
    action_ts: float
    body: bytes = b""
    sent_at: float = float("nan")  # monotonic, when the request went out
    lag: float = 0.0  # how late it went out vs its slot (rate mode)
    latency: float = float("nan")  # request -> HTTP response (the ack)
    status: str = ""


@dataclass
class Plan:
    clicks: list[Click]
    expected: dict[str, str]  # user -> final option (the later click's)
    doubles_in_order: set[str] = field(default_factory=set)
    doubles_swapped: set[str] = field(default_factory=set)


def make_plan(users: int, options: list[str], post_id: str, fake_base: str) -> Plan:
    base = time.time()
    plan = Plan([], {})
    made: list[Click] = []

    def click(user: str, opt_i: int, ts: float) -> Click:
        c = Click(len(made), user, options[opt_i], opt_i, ts)  # n: in the response_url
        made.append(c)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM, "domain": "bank"},
            "api_app_id": "A1",
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "message_ts": MESSAGE_TS, "channel_id": CHANNEL},
            "message": {"ts": MESSAGE_TS},
            "trigger_id": f"trig-{c.n}",
            "response_url": f"{fake_base}/response/{user}?click={c.n}",
            "actions": [{
                "type": "button",
                "action_id": f"eb.ex.answer:{opt_i}",
                "value": f"{post_id}|{options[opt_i]}",
                "block_id": "b",
                "action_ts": f"{ts:.6f}",
            }],
        }
        c.body = interactive_body(payload).encode()
        return c

    k = len(options)
    doubles = 0
    for i in range(users):
        user = f"U{i:04d}"
        first_ts = base + i * 0.01
        if i % 10 == 7:  # every 10th user changes their mind a second later
            first = click(user, i % k, first_ts)
            later = click(user, (i + 1) % k, first_ts + 1.0)
            if doubles % 2 == 0:
                pair, bucket = [first, later], plan.doubles_in_order
            else:
                pair, bucket = [later, first], plan.doubles_swapped
            doubles += 1
            bucket.add(user)
            plan.clicks += pair
            plan.expected[user] = later.option
        else:
            plan.clicks.append(click(user, i % k, first_ts))
            plan.expected[user] = options[i % k]
    return plan


async def fire(url: str, clicks: list[Click], concurrency: int, rate: float,
               max_seconds: float) -> float:
    """Send the clicks in order, at most `concurrency` in flight, at `rate`/s if given (else as
    fast as acks come back), until all are sent or max_seconds have passed; returns the time
    from the first send to the last response."""
    sem = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=30),
    ) as http:

        async def one(c: Click) -> None:
            try:
                headers = signed_headers(c.body.decode())
                c.sent_at = time.monotonic()
                t0 = time.perf_counter()
                try:
                    async with http.post(url + "/slack/events", data=c.body,
                                         headers=headers) as r:
                        await r.read()
                        c.status = str(r.status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    c.status = type(exc).__name__
                c.latency = time.perf_counter() - t0
            finally:
                sem.release()

        t_start = time.perf_counter()
        for k, c in enumerate(clicks):
            if rate > 0:
                slot = t_start + k / rate
                delay = slot - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if time.perf_counter() - t_start > max_seconds:
                break
            await sem.acquire()
            if rate > 0:
                c.lag = max(0.0, time.perf_counter() - (t_start + k / rate))
            tasks.append(asyncio.create_task(one(c)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - t_start


# == the run ======================================================================================


def postgres_cpu() -> float:
    """CPU seconds of every process named postgres on this machine (the server and all its
    backends, ours and anyone else's): with --database-url the database works for us too."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip().startswith("postgres"):
                    total += cpu_seconds(int(d.name))
            except OSError:
                continue
    return total


def pct(xs: list[float], q: float) -> float:
    data = sorted(x for x in xs if x == x)
    return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def ms(x: float) -> str:
    return "-" if x != x else f"{x * 1e3:.1f} ms"


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.children = Children()
        self.http: aiohttp.ClientSession | None = None
        self.pg_name = ""
        self.prepared: Prepared | None = None
        self.pids: dict[str, int] = {"client": os.getpid()}

    def cpu_now(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        if self.pg_name:
            out["postgres"] = postgres_cpu()
        out["machine"] = system_busy_seconds()
        return out

    async def fake_json(self, path: str) -> Any:
        assert self.http is not None
        async with self.http.get(self.fake_base + path) as r:
            return await r.json()

    async def run(self) -> None:
        a = self.args
        me = str(os.getpid())
        fake = self.children.start(
            "fake", [sys.executable, __file__, "--role", "fake-slack", "--parent", me],
            dict(os.environ), self.tmp / "fake.log", stdout_pipe=True)
        self.fake_url = read_line(fake, 30)
        self.fake_base = self.fake_url.removesuffix("/api/")
        self.pids["fake"] = fake.pid

        if a.database_url:
            db_url, self.pg_name = pg_create(a.database_url)
            where = f"PostgreSQL database {self.pg_name} (created for this run)"
        else:
            db_url = f"sqlite:///{self.tmp / 'ethicsbot.db'}"
            where = "SQLite file in a temp dir"
        port = free_port()
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": db_url, "PORT": str(port),
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": self.fake_url, "TRAINER_SLACK_USERS": "UTRAINER",
            "ETHICSBOT_DISPATCH_INTERVAL": "0.05", "ETHICSBOT_CONTENT": str(REPO),
            "PYTHONUNBUFFERED": "1",
        })
        t0 = time.perf_counter()
        self.prepared = p = prepare_post(env)
        print(f"database: {where}; exercise {p.exercise_id} (options "
              f"{','.join(p.options)}) posted as {p.post_id} in {time.perf_counter() - t0:.1f} s "
              "(schedule + tick + mark, in this process)")

        exe = shutil.which("ethicsbot")
        cmd = [exe] if exe else [sys.executable, "-m", "bot.cli"]
        ours = self.children.start("ours", [*cmd, "serve", "--host", "127.0.0.1"], env,
                                   self.tmp / "ours.log")
        self.pids["ours"] = ours.pid
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        server = f"http://127.0.0.1:{port}"
        healthy = await wait_healthy(self.http, server, ours)
        print(f"fake Slack {self.fake_url} (pid {fake.pid}); `ethicsbot serve` {server} "
              f"(pid {ours.pid}, healthy after {healthy:.1f} s)")
        c0 = cpu_seconds(ours.pid)
        await asyncio.sleep(IDLE_SECONDS)
        self.idle_cpu = (cpu_seconds(ours.pid) - c0) / IDLE_SECONDS

        self.plan = plan = make_plan(a.users, p.options, p.post_id, self.fake_base)
        mode = f"{a.rate:g} clicks/s" if a.rate > 0 else "as fast as acked"
        print(f"sending {len(plan.clicks)} clicks from {a.users} users "
              f"({len(plan.doubles_in_order)} + {len(plan.doubles_swapped)} click twice: in "
              "order / later click first), "
              f"{mode}, at most {a.concurrency} in flight", flush=True)
        await asyncio.sleep(0.2)
        before = Counter(await self.fake_json("/_bench/counts"))
        self.cpu0 = self.cpu_now()
        self.t_mono0 = time.monotonic()
        self.send_elapsed = await fire(server, plan.clicks, a.concurrency, a.rate, a.send_timeout)
        self.sent = [c for c in plan.clicks if c.status]
        self.ok = [c for c in self.sent if c.status == "200"]
        print(f"  sent {len(self.sent)} in {self.send_elapsed:.2f} s; waiting (at most "
              f"{a.wait:.0f} s) for {len(self.ok)} confirmations", flush=True)

        end = time.monotonic() + a.wait
        got = 0
        while time.monotonic() < end:
            got = Counter(await self.fake_json("/_bench/counts"))["response_url"] - \
                before["response_url"]
            if got >= len(self.ok):
                break
            await asyncio.sleep(0.1)
        self.wait_done = time.monotonic()
        self.cpu1 = self.cpu_now()
        await asyncio.sleep(1.0)  # anything extra (a duplicate confirmation) would come now
        self.responses = await self.fake_json("/_bench/responses")
        self.counts = Counter(await self.fake_json("/_bench/counts")) - before
        self.rows = self.read_rows()

    def read_rows(self) -> list[tuple[str, str, Any]]:
        from sqlalchemy import text

        assert self.prepared is not None
        with self.prepared.services.db.tx() as s:
            return [tuple(r) for r in s.execute(
                text("SELECT voter, option, at FROM exercise_answers WHERE post_id = :p"),
                {"p": self.prepared.post_id}).all()]

    def total_rows(self) -> int:
        from sqlalchemy import text

        assert self.prepared is not None
        with self.prepared.services.db.tx() as s:
            return int(s.execute(text("SELECT count(*) FROM exercise_answers")).scalar_one())

    async def close(self) -> None:
        if self.http:
            await self.http.close()
        self.children.stop()
        if self.prepared is not None:
            self.prepared.services.db.dispose()
        if self.pg_name:
            pg_drop(self.args.database_url, self.pg_name)
            print(f"dropped PostgreSQL database {self.pg_name}")


# == report =======================================================================================


def report(b: Bench) -> None:
    a, plan = b.args, b.plan
    assert b.prepared is not None
    who = b.prepared.services.exercises.who
    sent, ok = b.sent, b.ok
    statuses = Counter(c.status for c in sent)
    non200 = len(sent) - len(ok)
    first_send = min((c.sent_at for c in sent), default=b.t_mono0)

    # confirmations at the fake
    by_click: dict[int, list[list[Any]]] = {}
    recorded = closed = other = 0
    wrong_text = named_final = 0
    clicks = {c.n: c for c in plan.clicks}
    for rid, click_no, at, txt, rtype in b.responses:
        n = int(click_no) if str(click_no).isdigit() else -1
        by_click.setdefault(n, []).append([rid, at, txt, rtype])
        m = _RECORDED.search(txt)
        if m:
            recorded += 1
            c = clicks.get(n)
            named = m.group(1).lower()
            if c is None or c.user != rid or named not in (c.option, plan.expected[c.user]):
                wrong_text += 1  # names neither this click's option nor the user's final one
            elif named != c.option:
                named_final += 1
        elif "closed" in txt:
            closed += 1
        else:
            other += 1
    e2e = [by_click[c.n][0][1] - c.sent_at for c in ok if c.n in by_click]
    last_conf = max((r[2] for r in b.responses), default=float("nan"))
    conf_span = last_conf - first_send
    multi = sum(1 for n, rs in by_click.items() if n >= 0 and len(rs) > 1)
    none = sum(1 for c in ok if c.n not in by_click)
    not_ephemeral = sum(1 for r in b.responses if r[4] != "ephemeral")

    # the database
    rows = b.rows
    pseud = {who(f"slack:{TEAM}:{u}"): u for u in plan.expected}
    stored: dict[str, list[str]] = {}
    unknown = 0
    for voter, option, _at in rows:
        u = pseud.get(voter)
        if u is None:
            unknown += 1
        else:
            stored.setdefault(u, []).append(option)
    dup = sum(len(v) - 1 for v in stored.values())
    missing = [u for u in plan.expected if u not in stored]
    wrong = [u for u, opts in stored.items() if opts[-1] != plan.expected[u]]
    wrong_in_order = [u for u in wrong if u in plan.doubles_in_order]
    wrong_swapped = [u for u in wrong if u in plan.doubles_swapped]
    total_rows = b.total_rows()

    # what each double-clicker was told last vs what is stored
    last_told: dict[str, tuple[float, str]] = {}
    for rid, _n, at, txt, _t in b.responses:
        m = _RECORDED.search(txt)
        if m and (rid not in last_told or at > last_told[rid][0]):
            last_told[rid] = (at, m.group(1).lower())
    doubles = plan.doubles_in_order | plan.doubles_swapped
    told_other = sorted(u for u in doubles if u in last_told and u in stored
                        and last_told[u][1] != stored[u][-1])

    cpu = {k: b.cpu1[k] - b.cpu0[k] for k in b.cpu0}
    others = max(0.0, cpu.pop("machine") - sum(cpu.values()))
    wall = b.wait_done - b.t_mono0
    lags = [c.lag for c in sent]

    all_within = sent and (max(c.sent_at for c in sent) - first_send) <= TARGET_SECONDS
    print()
    print(f"== {len(plan.clicks)} answer clicks from {a.users} users on one posted exercise "
          f"({'rate ' + format(a.rate, 'g') + '/s' if a.rate > 0 else 'max speed'}, "
          f"concurrency {a.concurrency}) ==")
    print(f"requests sent              {len(sent):>7} of {len(plan.clicks)} in "
          f"{b.send_elapsed:.2f} s (last one out {max(c.sent_at for c in sent) - first_send:.2f} "
          f"s after the first: {'within' if all_within else 'NOT within'} "
          f"{TARGET_SECONDS:.0f} s)")
    if a.rate > 0:
        print(f"send lag behind schedule   p99 {ms(pct(lags, .99))}, max {ms(max(lags))}")
    print(f"non-200 responses          {non200:>7}" +
          (f"  {dict(statuses)}" if non200 else ""))
    print(f"requests/s (acked)         {len(ok) / b.send_elapsed:>7.0f}")
    print(f"ack latency                p50 {ms(pct([c.latency for c in ok], .5))}, "
          f"p99 {ms(pct([c.latency for c in ok], .99))}, "
          f"max {ms(pct([c.latency for c in ok], 1.0))}")
    print(f"confirmations received     {len(b.responses):>7} of {len(ok)} acked clicks "
          f"(recorded {recorded}, 'closed' {closed}, other {other}; not ephemeral "
          f"{not_ephemeral})")
    print(f"  clicks with none / >1    {none:>7} / {multi}; naming neither the clicked nor the "
          f"final option, or another user: {wrong_text}; naming the user's final option "
          f"instead of the clicked one: {named_final}")
    conf_rate = len(b.responses) / conf_span if conf_span > 0 else 0.0
    print(f"confirmations/s (end-to-end) {conf_rate:>5.0f}"
          f"  (first click sent -> last confirmation {conf_span:.2f} s)")
    arrivals = sorted(r[2] for r in b.responses)
    q = len(arrivals) // 4
    if q >= 10:
        rates = [(q - 1) / (arrivals[(i + 1) * q - 1] - arrivals[i * q])
                 if arrivals[(i + 1) * q - 1] > arrivals[i * q] else float("nan")
                 for i in range(4)]
        print("  confirmations/s by quarter of arrivals  "
              + " / ".join(f"{r:.0f}" for r in rates)
              + ("  (the server's pace while it had a backlog)" if a.rate <= 0 else ""))
    print(f"confirmation latency       p50 {ms(pct(e2e, .5))}, p99 {ms(pct(e2e, .99))}, "
          f"max {ms(pct(e2e, 1.0))}  (click sent -> its response_url post reached the fake)")
    timed = [c for c in ok if c.n in by_click]
    q = len(timed) // 4
    if q >= 10:
        quarters = [[by_click[c.n][0][1] - c.sent_at for c in timed[i * q:(i + 1) * q]]
                    for i in range(4)]
        print("  p50 by quarter of clicks sent            "
              + " / ".join(ms(pct(x, .5)) for x in quarters))
    print(f"rows recorded              {len(rows):>7} for the post (expected {a.users}); "
          f"{total_rows} in exercise_answers")
    print(f"duplicates                 {dup:>7}  (rows beyond one per user; also unknown "
          f"voters {unknown}, users with no row {len(missing)})")
    print(f"wrong final answers        {len(wrong):>7}  (double-clickers: {len(wrong_in_order)} "
          f"of {len(plan.doubles_in_order)} in order, {len(wrong_swapped)} of "
          f"{len(plan.doubles_swapped)} later-click-first)")
    told_in_order = sum(1 for u in told_other if u in plan.doubles_in_order)
    print(f"double-clickers whose last confirmation (by arrival) names another option than "
          f"the stored answer: {len(told_other)} of {len(doubles)} ({told_in_order} in order, "
          f"{len(told_other) - told_in_order} later-click-first)"
          + (f", e.g. {', '.join(told_other[:3])}" if told_other else ""))
    print(f"fake Slack calls meanwhile {dict(sorted(b.counts.items()))}")
    pg = f", postgres {cpu['postgres']:.1f}" if "postgres" in cpu else ""
    print(f"CPU seconds, first click -> all confirmed ({wall:.1f} s wall, 2 cores = 2.0 CPU-s/s):"
          f" server {cpu.get('ours', float('nan')):.1f} ("
          f"{cpu.get('ours', 0) / max(len(ok), 1) * 1e3:.1f} ms per click), fake "
          f"{cpu.get('fake', float('nan')):.1f}, client {cpu.get('client', float('nan')):.1f}"
          f"{pg}, others {others:.1f}")
    print(f"  the server idle (before the clicks, {IDLE_SECONDS:.0f} s): {b.idle_cpu:.2f} CPU-s/s"
          f" (the dispatcher polls the outbox every 0.05 s); net of that "
          f"{(cpu.get('ours', 0) - b.idle_cpu * wall) / max(len(ok), 1) * 1e3:.1f} ms per click")
    if wall > 1 and others / wall > 0.25:
        print(f"WARNING: other processes took {others / wall:.2f} of a core meanwhile: figures "
              "disturbed; run again on a quiet machine")
    if a.users == TARGET_USERS:
        met = (all_within and non200 == 0 and len(rows) == a.users and dup == 0 and not missing
               and not wrong and unknown == 0 and none == 0 and multi == 0
               and recorded == len(ok))
        print(f"Target: {TARGET_USERS:,} answers arriving within a minute are all recorded "
              f"once: {'MET' if met else 'MISSED'}")


def server_log_summary(tmp: Path) -> None:
    for name in ("ours", "fake"):
        log = tmp / f"{name}.log"
        if not log.exists():
            continue
        lines = log.read_text(errors="replace").splitlines()
        errors = [ln for ln in lines if "ERROR" in ln or "Traceback" in ln]
        warnings = [ln for ln in lines if "WARNING" in ln]
        print(f"{name} log: {len(lines)} lines, {len(errors)} error lines, {len(warnings)} "
              "warning lines" + (":" if errors or warnings else ""))
        for ln in (errors + warnings)[:5]:
            print("   ", ln[:200])


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="ethicsbot-bench-answers-"))
    b = Bench(args, tmp)
    t0 = time.perf_counter()
    print(f"{args.users} users on one exercise post; {os.cpu_count()} cores")
    try:
        await b.run()
        report(b)
    finally:
        await b.close()
        server_log_summary(tmp)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"(total run {time.perf_counter() - t0:.0f} s)")
    return 0


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", choices=["main", "fake-slack"], default="main",
                    help=argparse.SUPPRESS)
    ap.add_argument("--parent", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--users", type=int, default=TARGET_USERS,
                    help="distinct users, U0000 ...; every 10th clicks twice (max 10000)")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="clicks per second (default 0: as fast as the server acks)")
    ap.add_argument("--database-url", default="",
                    help="a PostgreSQL server, e.g. postgresql://127.0.0.1:5432/test: a fresh "
                         "database eb_bench_<random> is created there and dropped at the end "
                         "(default: a SQLite file in a temp dir)")
    ap.add_argument("--send-timeout", type=float, default=120.0,
                    help="stop sending after this many seconds")
    ap.add_argument("--wait", type=float, default=60.0,
                    help="max seconds to wait for the confirmations after the last send")
    ap.add_argument("--quick", action="store_true", help="200 users (smoke run)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite file)")
    args = ap.parse_args()
    if args.role == "fake-slack":
        asyncio.run(role_fake_slack(args.parent))
        return 0
    if args.quick:
        args.users = 200
    if not 1 <= args.users <= 10000:
        ap.error("--users must be 1..10000")
    if args.database_url and not args.database_url.startswith("postgresql"):
        ap.error("--database-url takes a postgresql:// URL (SQLite is the default)")
    signal.signal(signal.SIGTERM, _interrupt)  # TERM still runs the finally that stops children
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted (children stopped, temp files removed)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
