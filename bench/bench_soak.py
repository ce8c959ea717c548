"""Soak: mixed, correctly signed Slack traffic at a steady rate against real `ethicsbot serve`
processes — one on SQLite, or two on one PostgreSQL database behind an alternating balancer.

Each virtual colleague walks the fixture tree `mini` (new consultation, step click, free-text
answer, continue, step click), speaks up (escalation), an officer acknowledges a card, and the
colleague answers the week's exercise: nine requests, sent no faster than the global rate
(`--rate`, default 50/s), many colleagues in flight at once. Printed: p50/p95/p99 of the ack
latency, errors (non-200, time-outs, a step whose view never came), the outbox drain time
after the load stops, and each server's resident memory at minute 1 and at the end.

    python3 bench/bench_soak.py --setup sqlite --minutes 1
    python3 bench/bench_soak.py --setup pg --minutes 10      # needs PostgreSQL on 127.0.0.1

Targets (issue 10): p99 under 1 s, 0 errors, outbox drained within 60 s, memory growth under
10 %. The fake Slack runs in this process, so on a small shared machine the figures include
its CPU too.

Memory: `--tracemalloc` starts each server through this script's own wrapper role (no product
change): it runs `ethicsbot serve` with tracemalloc on, snapshots the Python heap at warm-up
(minute 1, on SIGUSR1) and at the end of the load (SIGUSR2), and prints the 20 allocation
sites that grew most and the object types whose counts grew. `--arena-max N` sets glibc's
MALLOC_ARENA_MAX for the servers, to tell allocator high-water from Python objects.

    python3 bench/bench_soak.py --setup sqlite --minutes 4 --tracemalloc
    python3 bench/bench_soak.py --setup sqlite --minutes 4 --arena-max 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bot.adapters.slack import actions as A  # noqa: E402
from bot.adapters.slack import case_blocks as CB  # noqa: E402
from tests.conftest import FIXTURE_CONTENT  # noqa: E402
from tests.fakes.signing import (  # noqa: E402
    block_action,
    command_body,
    interactive_body,
    signed_headers,
    view_submission,
)
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.harness import buttons, slack_env  # noqa: E402
from tests.serving import Serve, pg_database, pg_url, run_cli  # noqa: E402
from tests.test_cases import card_action, report_submission  # noqa: E402
from tests.test_exercises import answer_click  # noqa: E402

STEP_TIMEOUT = 15.0
TRACE_ROLE = "--traced-serve"  # argv[1] of the wrapper role (not an option people pass)
TRACE_FRAMES = 12


def traced_serve(argv: list[str]) -> int:
    """The wrapper role: `ethicsbot serve` with tracemalloc on. SIGUSR1 takes the warm-up
    snapshot, SIGUSR2 the end one and writes the comparison to $EB_TRACE_OUT (then the
    server keeps serving until SIGTERM as usual). Python-level signal handlers run in the
    main thread between bytecodes, i.e. on the event loop's thread, so the heap is quiet
    enough for a consistent snapshot (the loop pauses for the seconds a snapshot takes)."""
    import gc
    import tracemalloc
    from collections import Counter

    from bot.cli import main as cli_main

    python_heap = os.environ.get("EB_TRACE_PYTHON", "1") == "1"
    if python_heap:
        tracemalloc.start(TRACE_FRAMES)
    _count_connections()
    out = Path(os.environ["EB_TRACE_OUT"])
    marks: dict[str, Any] = {}

    def types() -> Counter[str]:
        gc.collect()
        return Counter(type(o).__qualname__ for o in gc.get_objects())

    def warm(_sig: int, _frame: object) -> None:
        marks["types"] = types()
        marks["native"] = native_memory()
        if python_heap:
            marks["snap"] = tracemalloc.take_snapshot()
            marks["traced"] = tracemalloc.get_traced_memory()[0]

    def end(_sig: int, _frame: object) -> None:
        after_types = types()
        native = native_memory()
        lines = ["native memory at warm-up -> end of load (MiB):"]
        lines += [f"  {k}: {marks['native'][k]:.1f} -> {v:.1f} ({v - marks['native'][k]:+.1f})"
                  for k, v in native.items()]  # fmt: skip
        if not python_heap:
            grown = after_types.copy()
            grown.subtract(marks["types"])
            lines.append("object types whose count grew most (gc-tracked objects):")
            lines += [f"  {n:+d} {t}" for t, n in grown.most_common(15) if n > 0]
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return
        snap = tracemalloc.take_snapshot()
        traced = tracemalloc.get_traced_memory()[0]
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        before = marks["snap"].filter_traces(ignore)
        snap = snap.filter_traces(ignore)
        lines += [
            f"traced Python heap: {marks['traced'] / 2**20:.1f} MiB at warm-up -> "
            f"{traced / 2**20:.1f} MiB at the end ({(traced - marks['traced']) / 2**20:+.1f} MiB)",
            "top 20 growing allocation sites (file:line, size growth, count growth):",
        ]
        for st in snap.compare_to(before, "lineno")[:20]:
            f = st.traceback[0]
            lines.append(
                f"  {f.filename}:{f.lineno}  {st.size_diff / 1024:+.0f} KiB "
                f"({st.count_diff:+d} blocks, now {st.size / 1024:.0f} KiB)"
            )
        lines.append("top 5 growing tracebacks (innermost last):")
        for st in snap.compare_to(before, "traceback")[:5]:
            lines.append(f"  {st.size_diff / 1024:+.0f} KiB ({st.count_diff:+d} blocks):")
            lines += [f"      {fr.filename}:{fr.lineno}" for fr in st.traceback]
        grown = after_types.copy()
        grown.subtract(marks["types"])
        lines.append("object types whose count grew most (gc-tracked objects):")
        lines += [f"  {n:+d} {t}" for t, n in grown.most_common(15) if n > 0]
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    signal.signal(signal.SIGUSR1, warm)
    signal.signal(signal.SIGUSR2, end)
    return cli_main(argv)


OPENED = [0]  # database connections the server's pools opened (the wrapper role)


def _count_connections() -> None:
    """Count every DBAPI connection any pool of the process opens: connections opened and
    closed again under load are churn, long-lived allocations made among short-lived ones."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def opened(*_args: object) -> None:
        OPENED[0] += 1

    event.listen(Pool, "connect", opened)


def native_memory() -> dict[str, float]:
    """Memory the Python heap trace cannot see, in MiB: what SQLite has allocated (its page
    caches and statements, `sqlite3_memory_used` of the library the server loaded), glibc
    malloc's bytes in use and free-but-kept (`mallinfo2`: a large "kept" with a flat "in use"
    is fragmentation, not a leak), and pymalloc's live blocks (count, not MiB)."""
    import ctypes
    import ctypes.util
    import sqlite3

    out: dict[str, float] = {}
    with contextlib.suppress(OSError, AttributeError):
        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        out["sqlite in use"] = lib.sqlite3_memory_used() / 2**20
        out["sqlite high-water"] = lib.sqlite3_memory_highwater(0) / 2**20
    del sqlite3

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]  # fmt: skip

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        m = libc.mallinfo2()
        out["malloc in use"] = (m.uordblks + m.hblkhd) / 2**20
        out["malloc free, kept"] = m.fordblks / 2**20
        out["malloc arenas"] = m.arena / 2**20
    out.update(pymalloc())
    out["db connections opened (count)"] = OPENED[0]
    return out


def pymalloc() -> dict[str, float]:
    """pymalloc's own arenas (mmapped, so outside `mallinfo2`): live bytes vs arena total; a
    growing total with flat live bytes is fragmentation. Read from `sys._debugmallocstats`,
    which writes to fd 2, so that fd is pointed at a temp file for the call."""
    import tempfile as tf

    with tf.TemporaryFile("w+") as f:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        stats: dict[str, str] = {}
        for key, _, value in (ln.partition("=") for ln in f):
            stats.setdefault(key.strip("# ").strip(), value)  # the first "Total" is pymalloc's
    num = {k: int(v.strip().replace(",", "") or 0) for k, v in stats.items()
           if v.strip().replace(",", "").isdigit()}  # fmt: skip
    return {
        "pymalloc live": num.get("bytes in allocated blocks", 0) / 2**20,
        "pymalloc arenas": num.get("Total", 0) / 2**20,
    }


class TracedServe(Serve):
    """`Serve` through the wrapper role above (tests/serving.py is not edited)."""

    def __init__(self, env: dict[str, str], log: Path, trace: Path) -> None:
        super().__init__({**env, "EB_TRACE_OUT": str(trace)}, log)
        self.trace = trace

    def spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, "PORT": str(self.port)}
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, TRACE_ROLE, "serve", "--host", "127.0.0.1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        return self.proc

    async def start(self, timeout: float = 120.0) -> str:
        """Longer than `Serve`'s 30 s: with tracemalloc on, loading the content and the
        search index (jieba) at start-up is several times slower."""
        return await super().start(timeout)

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    async def report(self, timeout: float = 120.0) -> str:
        """Ask for the end snapshot and wait for its comparison (a snapshot of a few hundred
        thousand blocks takes seconds)."""
        self.signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while not self.trace.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.2)
        return self.trace.read_text(encoding="utf-8") if self.trace.exists() else "(no report)"


class Index:
    """What the fake Slack received, indexed as it arrives (the bench must not rescan)."""

    def __init__(self, fake: FakeSlack) -> None:
        self.opened: dict[str, dict[str, Any]] = {}
        self.updated: dict[str, list[dict[str, Any]]] = {}
        self.cards: list[str] = []
        self.exercise: Any = None
        fake.hooks["views.open"] = self._open
        fake.hooks["views.update"] = self._update
        fake.hooks["chat.postMessage"] = self._post
        self.fake = fake

    def _open(self, args: dict[str, Any]) -> None:
        self.opened[str(args.get("trigger_id"))] = args["view"]

    def _update(self, args: dict[str, Any]) -> None:
        self.updated.setdefault(str(args.get("view_id")), []).append(args["view"])

    def _post(self, args: dict[str, Any]) -> None:
        if args.get("channel") == "CCOMPLY" and not args.get("thread_ts"):
            self.cards.append(buttons(args)[CB.CASE_ACK])
        elif args.get("channel") == "CTRAIN" and not args.get("thread_ts"):
            self.exercise = self.fake.calls[-1]


async def until(check: Any) -> Any:
    deadline = time.monotonic() + STEP_TIMEOUT
    while (found := check()) is None or found is False:
        if time.monotonic() > deadline:
            raise TimeoutError("the expected Slack call never came")
        await asyncio.sleep(0.02)
    return found


class Load:
    def __init__(self, urls: list[str], rate: float, index: Index) -> None:
        self.urls, self.rate, self.index = urls, rate, index
        self.turn = itertools.count()
        self.next_slot = time.monotonic()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.http: aiohttp.ClientSession | None = None
        self.acked = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def send(self, body: str) -> Any:
        """One signed request at the next free slot of the global rate; returns its JSON."""
        slot, self.next_slot = self.next_slot, max(self.next_slot, time.monotonic()) + 1 / self.rate
        await asyncio.sleep(max(0.0, slot - time.monotonic()))
        url = self.urls[next(self.turn) % len(self.urls)]
        assert self.http is not None
        started = time.perf_counter()
        async with self.http.post(
            url + "/slack/events", data=body.encode(), headers=signed_headers(body)
        ) as r:
            raw = await r.text()
            self.latencies.append(time.perf_counter() - started)
            if r.status != 200:
                self.error(f"http {r.status}")
                raise RuntimeError(f"status {r.status}")
        import json

        return json.loads(raw) if raw else None

    async def colleague(self, n: int) -> None:
        user, vid = f"US{n}", f"VS{n}"
        try:
            await self.send(command_body("mini", user=user).replace("trig-1", f"trig-{user}"))
            view = await until(lambda: self.index.opened.get(f"trig-{user}"))
            await self.send(
                interactive_body(
                    block_action(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"], user=user,
                                 view_id=vid)
                )
            )  # fmt: skip
            view = (await until(lambda: len(self.index.updated.get(vid, [])) >= 1 or None))
            view = self.index.updated[vid][-1]
            answer = await self.send(
                interactive_body(
                    view_submission(view["private_metadata"], "they asked for it", user=user)
                )
            )
            view = answer["view"]
            await self.send(
                interactive_body(
                    block_action(A.CONTINUE, buttons(view)[A.CONTINUE], user=user, view_id=vid)
                )
            )
            await until(lambda: len(self.index.updated.get(vid, [])) >= 2 or None)
            view = self.index.updated[vid][-1]
            await self.send(
                interactive_body(
                    block_action(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"], user=user,
                                 view_id=vid)
                )
            )  # fmt: skip
            await until(lambda: len(self.index.updated.get(vid, [])) >= 3 or None)
            view = self.index.updated[vid][-1]
            await self.send(
                interactive_body(
                    block_action(A.REPORT, buttons(view)[A.REPORT], user=user, view_id=vid)
                )
            )
            await until(lambda: len(self.index.updated.get(vid, [])) >= 4 or None)
            view = self.index.updated[vid][-1]
            await self.send(interactive_body(report_submission(view, "named", user=user)))
            if self.index.cards[self.acked :]:
                case_id = self.index.cards[self.acked]
                self.acked += 1
                await self.send(card_action(CB.CASE_ACK, case_id, "UOFFICER1"))
            post = await until(lambda: self.index.exercise)
            await self.send(answer_click(self.index.fake, post, n % 3, user))
        except TimeoutError:
            self.error("step view never came")
        except (RuntimeError, KeyError, TypeError):
            pass  # counted in send (a refusal's body has no view)
        except aiohttp.ClientError as exc:
            self.error(type(exc).__name__)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def smaps_mib(pid: int) -> dict[str, int]:
    """Where a process's resident memory is, from /proc/<pid>/smaps_rollup (MiB): anonymous
    (malloc arenas, Python objects, SQLite page caches) vs file-backed (shared libraries,
    mapped files), plus the thread count (each thread may get its own malloc arena)."""
    fields: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            fields[key] = int(rest.split()[0]) // 1024
    threads = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    return {
        "rss": fields.get("Rss", 0),
        "anon": fields.get("Anonymous", 0),
        "file": fields.get("Pss_File", 0),
        "threads": threads,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def pending(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
                       .scalar() or 0)  # fmt: skip
    finally:
        engine.dispose()


async def soak(
    setup: str,
    minutes: float,
    rate: float,
    db_url: str,
    tmp: Path,
    *,
    traced: bool = False,
    native: bool = False,
    arena_max: int = 0,
    extra_env: dict[str, str] | None = None,
) -> None:
    fake = FakeSlack()
    await fake.start()
    index = Index(fake)
    env = slack_env(db_url, fake.url, FIXTURE_CONTENT, ETHICSBOT_DISPATCH_INTERVAL="0.2")
    if arena_max:
        env["MALLOC_ARENA_MAX"] = str(arena_max)
    env.update(extra_env or {})
    if native and not traced:
        env["EB_TRACE_PYTHON"] = "0"
        traced = True  # the wrapper role, without tracemalloc
    n = 2 if setup == "pg" else 1
    servers: list[Serve] = [
        TracedServe(env, tmp / f"serve{i}.log", tmp / f"trace{i}.txt")
        if traced
        else Serve(env, tmp / f"serve{i}.log")
        for i in range(n)
    ]
    reports: list[str] = []
    await asyncio.gather(*(s.start() for s in servers))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    run_cli(
        env, "exercise", "schedule", "--channel", "CTRAIN", "--exercise", "ex-mini-1",
        "--post", now.strftime("%Y-%m-%dT%H:%M"),
        "--reveal", (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "--tz", "UTC",
    )  # fmt: skip
    run_cli(env, "exercise", "tick")
    load = Load([s.url for s in servers], rate, index)
    load.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    rss_start: list[int] = []
    trail: list[list[int]] = []
    parts: list[list[dict[str, int]]] = []
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    end = started + minutes * 60
    try:
        for i in itertools.count():
            if time.monotonic() >= end:
                break
            if not rss_start and time.monotonic() - started >= 60:
                rss_start = [rss_kib(s.proc.pid) for s in servers if s.proc]
                for s in servers:
                    if isinstance(s, TracedServe):
                        s.signal(signal.SIGUSR1)
            minute = int((time.monotonic() - started) // 60)
            if minute > len(trail):  # RSS every minute: growth that levels off is warm-up
                trail.append([rss_kib(s.proc.pid) // 1024 for s in servers if s.proc])
                parts.append([smaps_mib(s.proc.pid) for s in servers if s.proc])
            # 9 requests per colleague: start one as often as the rate allows
            while len(tasks) > rate * 3:
                await asyncio.sleep(0.05)
            task = asyncio.create_task(load.colleague(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(9 / rate)
        if not rss_start:
            rss_start = [rss_kib(s.proc.pid) for s in servers if s.proc]
        # at the last minute of load (minute 10 of a 10-minute run), not after the drain
        rss_end = [rss_kib(s.proc.pid) for s in servers if s.proc]
        await asyncio.gather(*tasks)
        reports = [await s.report() for s in servers if isinstance(s, TracedServe)]
        stopped = time.monotonic()
        while pending(db_url) and time.monotonic() - stopped < 300:
            await asyncio.sleep(0.5)
        drain = time.monotonic() - stopped
        left = pending(db_url)
    finally:
        await load.http.close()
        await asyncio.gather(*(s.aclose() for s in servers))
        await fake.stop()
    total = len(load.latencies)
    elapsed = minutes * 60
    print(f"setup: {setup} ({n} instance{'s' if n > 1 else ''}), {minutes:g} min, "
          f"target {rate:g} req/s"
          + (f", MALLOC_ARENA_MAX={arena_max}" if arena_max else "")
          + (", tracemalloc on" if traced and not native else "")
          + (", native memory report" if native else "")
          + "".join(f", {k}={v}" for k, v in (extra_env or {}).items()))  # fmt: skip
    print(f"requests: {total} ({total / elapsed:.1f} req/s achieved), colleagues: {i}")
    print(
        "ack latency ms: p50 {:.0f}  p95 {:.0f}  p99 {:.0f}  max {:.0f}".format(
            *(pct(load.latencies, p) * 1000 for p in (50, 95, 99, 100))
        )
    )
    print(f"errors: {sum(load.errors.values())} {load.errors or ''}")
    print(f"cards posted: {len(index.cards)} ({len(set(index.cards))} distinct)")
    print(f"outbox drain after load: {drain:.1f} s ({left} rows left)")
    print("RSS MiB by minute: " + "  ".join(f"{m + 1}:{'/'.join(map(str, r))}"
                                            for m, r in enumerate(trail)))  # fmt: skip
    for k in range(n):
        print(f"instance {k} by minute, MiB anonymous / file-backed / threads: "
              + "  ".join(f"{m + 1}:{p[k]['anon']}/{p[k]['file']}/{p[k]['threads']}"
                          for m, p in enumerate(parts) if k < len(p)))  # fmt: skip
    for k, (a, b) in enumerate(zip(rss_start, rss_end, strict=False)):
        growth = (b - a) / a * 100 if a else 0
        print(f"instance {k} RSS: minute 1 {a / 1024:.0f} MiB, minute {minutes:g} "
              f"{b / 1024:.0f} MiB "
              f"({growth:+.1f} %)")  # fmt: skip
    for k, rep in enumerate(reports):
        print(f"== instance {k}: warm-up (minute 1) -> end of load ==")
        print(rep, end="")


def main() -> int:
    if sys.argv[1:2] == [TRACE_ROLE]:
        return traced_serve(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setup", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="heap snapshots at minute 1 and at the end; print what grew")  # fmt: skip
    ap.add_argument("--native", action="store_true",
                    help="report SQLite's and malloc's own memory at minute 1 and at the end "
                         "(no tracemalloc, so no slow-down)")  # fmt: skip
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra environment variable for the servers (repeatable), "
                         "e.g. MALLOC_MMAP_THRESHOLD_=65536")  # fmt: skip
    ap.add_argument("--arena-max", type=int, default=0, metavar="N",
                    help="MALLOC_ARENA_MAX for the servers (glibc; 0: unset)")  # fmt: skip
    args = ap.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.setup == "sqlite":
            url = f"sqlite:///{tmp / 's.db'}"
            asyncio.run(soak("sqlite", args.minutes, args.rate, url, tmp, traced=args.tracemalloc,
                             native=args.native, arena_max=args.arena_max,
                             extra_env=extra))  # fmt: skip
        else:
            with pg_database() as name:
                asyncio.run(soak("pg", args.minutes, args.rate, pg_url(name), tmp,
                                 traced=args.tracemalloc, native=args.native,
                                 arena_max=args.arena_max, extra_env=extra))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
