"""The generic delivery worker: claims its platform's outbox rows and hands them to that
platform's `Deliverer`, with leases, back-off and logging done once here for every platform.

A deliverer only talks to its platform. It returns what it did (stored on the row), raises
`NotYet` when the job waits for something else (the card it updates is not posted yet, no
desk conversation configured), or `Retry` for a transient platform fault. Anything else is
logged by type only (never the text, which may quote a payload) and retried with back-off.
Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from bot.delivery import outbox
from bot.delivery.outbox import Job
from bot.ops import memory

if TYPE_CHECKING:
    from bot.bootstrap import Services

log = logging.getLogger(__name__)

NOT_YET_WAIT = timedelta(seconds=2)
MAX_HOLD = timedelta(minutes=5)  # the longest one delivery keeps renewing its lease


class NotYet(Exception):
    """The job depends on something not there yet (e.g. the card it updates)."""


class Retry(Exception):
    """A transient platform fault: try again `after` (Retry-After) or with back-off."""

    def __init__(self, reason: str, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason, self.after = reason, after


class Deliverer(Protocol):
    """One platform's side of delivery."""

    platform: str

    async def deliver(self, job: Job) -> dict[str, str]:
        """Do what the row asks on the platform, reconciling first when job.attempts > 1."""
        ...


class Worker:
    """Delivers one platform's outbox rows; one per platform per process."""

    def __init__(
        self,
        services: Services,
        deliverer: Deliverer,
        *,
        interval: float = 1.0,
        lease: timedelta = outbox.LEASE,
    ) -> None:
        self.s = services
        self.deliverer = deliverer
        self.platform = deliverer.platform
        self.interval = interval
        self.lease = lease
        self.kick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Thread-safe: called (through Signals) after a service commits a row."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.kick.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        unregister = self.s.signals.register(self.platform, self.wake)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:  # the loop must survive anything; the outbox keeps the work
                    log.exception("%s worker tick failed; retrying", self.platform)
                self.kick.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.kick.wait(), self.interval)
        finally:
            unregister()

    async def tick(self) -> int:
        jobs = await asyncio.to_thread(
            outbox.claim, self.s.db, self.platform, self.s.clock(), lease=self.lease
        )
        for job in jobs:
            await self.deliver(job)
        return len(jobs)

    async def deliver(self, job: Job) -> None:
        now = self.s.clock
        try:
            result = await self._held(job)
        except NotYet as exc:
            reason = str(exc)
            # once per row and reason at WARNING (kept on the row, so across instances too)
            level = logging.DEBUG if job.last_error == reason else logging.WARNING
            log.log(
                level,
                "outbox %s (%s %s) waiting: %s",
                job.id,
                self.platform,
                job.kind.value,
                reason,
            )
            await asyncio.to_thread(outbox.retry, self.s.db, job, now(), reason, NOT_YET_WAIT)
            return
        except Retry as exc:
            at = await asyncio.to_thread(outbox.retry, self.s.db, job, now(), exc.reason, exc.after)
            log.warning(
                "outbox %s (%s %s) failed: %s; next try %s",
                job.id,
                self.platform,
                job.kind.value,
                exc.reason,
                at.isoformat(timespec="seconds"),
            )
            return
        except Exception as exc:  # a bug or an unexpected fault: keep the row, back off
            name = type(exc).__name__
            at = await asyncio.to_thread(outbox.retry, self.s.db, job, now(), name)
            log.error(
                "outbox %s (%s %s) raised %s; next try %s",
                job.id,
                self.platform,
                job.kind.value,
                name,
                at.isoformat(timespec="seconds"),
            )
            return
        await asyncio.to_thread(outbox.done, self.s.db, job.id, now(), result)

    async def _held(self, job: Job) -> dict[str, str]:
        """The deliverer's work, with the lease renewed until it returns or raises."""
        heartbeat = asyncio.create_task(self._hold(job))
        try:
            return await self.deliverer.deliver(job)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _hold(self, job: Job) -> None:
        """Renew the lease every third of it while the delivery runs, up to MAX_HOLD: a
        delivery that outlasts its lease (a chart render, a slow platform) would otherwise be
        claimed by another instance and done twice. A killed process stops renewing, so its
        rows are still taken over one lease after the crash; a hung one after MAX_HOLD."""
        period = max(self.lease.total_seconds() / 3, 0.05)
        loop = asyncio.get_running_loop()
        until = loop.time() + MAX_HOLD.total_seconds()
        while loop.time() < until:
            await asyncio.sleep(period)
            try:
                ours = await asyncio.to_thread(
                    outbox.renew, self.s.db, job, self.s.clock(), self.lease
                )
            except Exception as exc:  # the database blipped: the next beat tries again
                log.warning("outbox %s lease renewal failed: %s", job.id, type(exc).__name__)
                continue
            if not ours:
                return


async def run_timers(services: Services, stop: asyncio.Event, every: float = 30.0) -> None:
    """Case reminders and the exercise scheduler, once per process (not per platform): both
    only write outbox rows, under unique keys, so several instances may run them. Each
    round also hands freed heap memory back to the OS (bot/ops/memory.py)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        try:
            await asyncio.to_thread(services.cases.remind)
            await asyncio.to_thread(services.exercises.tick)
            await asyncio.to_thread(services.reports.tick)
            await asyncio.to_thread(services.reflection.tick)
        except Exception:
            log.exception("timers failed; retrying")
        await asyncio.to_thread(memory.release)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, every - (loop.time() - started)))
