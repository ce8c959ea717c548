"""Database engine set-up for SQLite (default) and PostgreSQL, and schema migration.

SQLite gets WAL (survives a killed process), `BEGIN IMMEDIATE` for every transaction (a
deferred read-then-write upgrade fails with SQLITE_BUSY whatever busy_timeout says), a busy
timeout, and secure_delete so purged personal data does not linger in the file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.errors import StorageUnavailable, translated

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
T = TypeVar("T")


class WouldWait(BaseException):
    """An inline attempt (`Database.run`) met a write lock that someone else holds, before
    it had written anything, so it can be redone from the start. `queue`: this process's
    writer queue (a timer's or the outbox worker's transaction; the loop awaits its release
    and tries again); else SQLite's own lock, held by another process (the call goes to a
    worker thread, which waits in SQLite's busy handler). A BaseException, like GeneratorExit,
    so that no `except Exception` in a service can swallow it and return as if the call had
    run."""

    def __init__(self, queue: bool) -> None:
        super().__init__(queue)
        self.queue = queue


@dataclass
class _Attempt:
    """The state of one inline call on the event loop's thread."""

    wrote: bool = False  # a write transaction began: from here on it waits like any other
    probing: bool = False  # the BEGIN IMMEDIATE about to run must not wait for the lock


_inline: ContextVar[_Attempt | None] = ContextVar("ethicsbot_inline_db", default=None)


def busy_timeout(url: str) -> float:
    """SQLite's busy timeout in seconds: `?timeout=` in the URL, 30 by default."""
    return float(str(make_url(url).query.get("timeout") or 30))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine with the per-dialect settings above; `url` is a SQLAlchemy database URL.

    A SQLite URL may carry `?timeout=<seconds>` (the busy timeout, 30 by default), as
    SQLAlchemy's pysqlite dialect reads it. Statement parameters are kept out of exception
    texts (`hide_parameters`): they can hold what a reporter typed, and errors get logged."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        busy = busy_timeout(url)
        engine = create_engine(
            url, connect_args={"timeout": busy, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute("PRAGMA foreign_keys=ON")
            # 512 KiB of page cache per pooled connection instead of 2 MiB: the hot rows are
            # found by primary key (the B-tree's inner pages stay cached), the OS caches the
            # file anyway, and the default let each of up to 15 connections grow its own copy
            # by 2 MiB over a long run (the soak's "SQLite own" memory, bench/README.md)
            cur.execute("PRAGMA cache_size=-512")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # reads take no write lock (WAL readers never wait); writes lock at once
            readonly = conn.get_execution_options().get("eb_readonly")
            sql = "BEGIN" if readonly else "BEGIN IMMEDIATE"
            # on the driver's connection: SQLAlchemy's statement machinery (events, cursor
            # wrapping, result set-up) cost more than SQLite's BEGIN itself, on every
            # transaction. Its errors are wrapped as SQLAlchemy would, so a database still
            # locked after the busy timeout is `StorageUnavailable` as before.
            driver = conn.connection.driver_connection
            attempt = _inline.get()
            if not readonly and attempt is not None and attempt.probing:
                # the first write of an inline call: another process (the CLI, a second
                # server on this file) holding the lock must not stall the event loop in
                # SQLite's busy handler, so this one BEGIN does not wait for it
                attempt.probing = False
                driver.execute("PRAGMA busy_timeout=0")
                try:
                    driver.execute(sql)
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        raise DBAPIError.instance(
                            sql, None, exc, sqlite3.Error, hide_parameters=True
                        ) from None
                    raise WouldWait(queue=False) from None
                finally:
                    driver.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
                return
            try:
                driver.execute(sql)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(
                    sql, None, exc, sqlite3.Error, hide_parameters=True
                ) from None

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _alembic_config(connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe to call at every start)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # several instances may start at once: one migrates, the others wait
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7406120001)")
        command.upgrade(_alembic_config(conn), "head")


@contextmanager
def _ours() -> Iterator[None]:
    """Database faults as `StorageUnavailable`, for every kind of transaction below: not
    chained, since the cause's text can name parameters."""
    try:
        yield
    except Exception as exc:
        unavailable = translated(exc)
        if unavailable is exc:
            raise
        raise unavailable from None


class WriterQueue:
    """One SQLite write transaction at a time in this process, the others queued on a mutex.

    Why: SQLite has one writer. Without this, threads of the same process meet at `BEGIN
    IMMEDIATE`, and the one that loses waits in SQLite's busy handler, which does not wake
    when the lock frees but sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms and tries
    again. At eight concurrent requests those sleeps were the Teams route's p99 (~340 ms, the
    sum of the first eleven) while the work itself took ~3 ms. A mutex hands the lock over
    the moment it is released. Another process (the CLI, a second server on the same file)
    still meets us in the busy handler, as before.

    The wait is bounded by the busy timeout: a thread that cannot get its turn in that time
    gets `StorageUnavailable("locked")` just as SQLite would have raised it, so "locked by
    another process" still says "try again" within the same time. Re-entrant, so a nested
    write on one thread fails in SQLite after its timeout exactly as before, and not by
    waiting on itself."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.RLock()
        # this process's figures for /metrics: how many writes had to queue, for how long in
        # all, and how many gave up
        self.waited = 0
        self.waited_seconds = 0.0
        self.refused = 0
        # inline calls (`Database.run`) that met SQLite's lock held by another process and
        # went to a worker thread; only the event loop's thread counts them (no lock needed)
        self.offloaded = 0
        self._figures = threading.Lock()  # taken only by writes that queue anyway
        # event loops awaiting the next release (`released`), woken by whoever releases
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @contextmanager
    def turn(self) -> Iterator[None]:
        attempt = _inline.get()
        if attempt is not None and not attempt.wrote:
            # an inline call's first write (`Database.run`): on the event loop's thread,
            # never wait here; nothing was written yet, so the call can be redone
            if not self._lock.acquire(blocking=False):
                raise WouldWait(queue=True)
            attempt.wrote = attempt.probing = True
            try:
                yield
            finally:
                self._release()
            return
        if not self._lock.acquire(blocking=False):
            with self._figures:
                self.waited += 1
            started = time.monotonic()
            got = self._lock.acquire(timeout=self.timeout)
            with self._figures:
                self.waited_seconds += time.monotonic() - started
            if not got:
                raise self.locked()
        try:
            yield
        finally:
            self._release()

    def locked(self) -> StorageUnavailable:
        """The "try again" for a write that could not get its turn within the busy timeout,
        counted for /metrics."""
        with self._figures:
            self.refused += 1
        log.warning("database unavailable: locked (writer queue)")
        return StorageUnavailable("locked", "writer queue")

    def _release(self) -> None:
        self._lock.release()
        if self._waiters:  # an event loop awaits the turn: wake it (from any thread)
            with self._figures:
                waiters, self._waiters = self._waiters, []
            for loop, fut in waiters:
                loop.call_soon_threadsafe(_wake, fut)

    async def released(self) -> None:
        """Return once the writer queue is free (or was freed since the caller found it held),
        within the busy timeout; the event loop goes on serving meanwhile."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._figures:
            self._waiters.append((loop, fut))
        if self._lock.acquire(blocking=False):  # freed before we were listed: go now
            self._lock.release()
            return
        started = time.monotonic()
        with self._figures:
            self.waited += 1
        try:
            await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            pass  # the caller's next try finds it held and says "locked", as SQLite would
        finally:
            with self._figures:
                self.waited_seconds += time.monotonic() - started


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Database:
    """The engine plus a session factory; `tx()` is one short write transaction.

    `tx()`, `read()` and `core()` raise `StorageUnavailable` (bot/storage/errors.py) when the
    database is away, locked past the busy timeout or full: the transaction was rolled back,
    and the caller's adapter can say "try again" without knowing SQLAlchemy."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self.writers = (
            WriterQueue(busy_timeout(url))
            if self.engine.dialect.name == "sqlite"
            else None
        )

    def _turn(self) -> Any:
        """The write turn on SQLite (WriterQueue); PostgreSQL locks rows, not the database."""
        return self.writers.turn() if self.writers is not None else nullcontext()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with self._turn(), _ours(), self._factory() as s, s.begin():
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the write lock."""
        with _ours(), self._factory() as s, s.begin():
            s.connection(execution_options={"eb_readonly": True})
            yield s

    @contextmanager
    def core(self, *, readonly: bool = False) -> Iterator[Connection]:
        """One short transaction on a bare Connection, for Core statements on tables (the hot
        path: a click, a first `/ethics`); with `readonly`, like `read()` (no write lock on
        SQLite). Same BEGIN, commit, rollback and `StorageUnavailable` translation as `tx()`,
        without the ORM Session and its unit of work, which cost more than the statements
        themselves in the profile of a click. A step that needs an ORM Session inside it gets
        one on this connection (`session_on`), in the same transaction."""
        with nullcontext() if readonly else self._turn(), _ours(), self.engine.connect() as conn:
            if readonly:
                conn.execution_options(eb_readonly=True)
            with conn.begin():
                yield conn

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a short blocking service call for an async adapter (a click, a first
        `/ethics`): on SQLite inline, on the event loop's own thread, as long as it need not
        wait for the write lock; otherwise, and always on PostgreSQL, in a worker thread.

        Why: the hand-off to a worker thread and back (a future, a wake-up of the loop, the
        GIL passed between two threads) cost more CPU than the SQLite work itself, about 40 %
        of a click in bench/bench_slack.py. SQLite answers a statement in microseconds and
        reads never wait in WAL; the one wait that can be long is the write lock. So the
        first write transaction of an inline call never blocks the loop: the writer queue is
        taken without blocking, and SQLite's lock with a busy timeout of 0. Nothing has been
        written when either is found held, so the call is redone from the start: after
        awaiting the queue's release (a timer or the outbox worker of this process), or, for
        SQLite's lock (another process), in a worker thread that waits there as before,
        within the busy timeout. A later transaction of the same call (e.g. the audit of a
        refusal) waits like any other, on the loop: such calls are short, the case rare.
        PostgreSQL has network round trips and row locks, so it always runs in a thread.
        Only for calls that do a few statements and little else: searches, exports and
        rendering stay with `asyncio.to_thread`."""
        if self.writers is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        deadline = time.monotonic() + self.writers.timeout
        while True:
            token = _inline.set(_Attempt())
            try:
                return fn(*args, **kwargs)
            except WouldWait as would:
                queued = would.queue
            finally:
                _inline.reset(token)
            if not queued:
                break
            if time.monotonic() >= deadline:  # held past the busy timeout: as a thread would
                raise self.writers.locked()
            # a timer's or the worker's write holds this process's queue for a moment: await
            # its release here and try again. Handing the call to a thread instead made the
            # thread hold the queue in turn, so the next calls met it held, and so on: under
            # load most steps ended up in threads again (2,463 of 4,000 in bench_slack).
            await self.writers.released()
        self.writers.offloaded += 1
        return await asyncio.to_thread(fn, *args, **kwargs)

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def session_on(conn: Connection) -> Session:
    """An ORM Session inside `conn`'s transaction (`Database.core()`): what it executes or
    flushes is committed or rolled back with that transaction, never on its own (closing it
    leaves the transaction to its owner)."""
    return Session(bind=conn, join_transaction_mode="rollback_only", expire_on_commit=False)


def insert(s: Session | Connection) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT on SQLite and PostgreSQL."""
    return insert_for(s.get_bind().dialect.name if isinstance(s, Session) else s.dialect.name)


def insert_for(dialect: str) -> Any:
    """`insert`, by dialect name (for statements built once per dialect)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if dialect == "postgresql" else sqlite_insert


def rowcount(result: Any) -> int:
    """Rows touched by an UPDATE or DELETE (typed as a plain Result by the stubs). Not for
    INSERTs through a Session: PostgreSQL reports -1 there; use RETURNING instead."""
    return int(getattr(result, "rowcount", 0) or 0)
