"""`/metrics` in Prometheus text format (prometheus_client), one registry per web app.

Request counts and latencies are this process's own, as Prometheus expects of each scraped
instance. What is shared by every instance — the outbox and the reminders — is read from the
database at scrape time, never kept in memory: any instance answers the same, and a process
that just started knows the backlog at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.delivery.outbox import Kind
from bot.storage.db import Database
from bot.storage.tables import CaseRow, OutboxRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# ack latency targets are 3 s (Slack) and 1 s (the soak's p99): buckets resolve around them
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0)
OPEN = ("new", "acknowledged", "investigating")


class SharedState(Collector):
    """Gauges computed from the database on every scrape (outbox, reminders, overdue)."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db, self.clock = db, clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ethicsbot_database_up", "1 when the database answered the scrape")
        depth = GaugeMetricFamily(
            "ethicsbot_outbox_pending", "outbox rows not yet delivered", labels=["platform"]
        )
        age = GaugeMetricFamily(
            "ethicsbot_outbox_oldest_pending_age_seconds",
            "age of the oldest undelivered outbox row (0 when none)",
            labels=["platform"],
        )
        reminders = GaugeMetricFamily(
            "ethicsbot_reminders_due",
            "case reminders that fell due and are not delivered yet",
            labels=["platform"],
        )
        overdue = GaugeMetricFamily(
            "ethicsbot_cases_overdue",
            "open cases past a legal clock (acknowledge, feedback)",
            labels=["clock"],
        )
        try:
            now = self.clock()
            with self.db.read() as s:
                pending = s.execute(
                    select(OutboxRow.platform, func.count(), func.min(OutboxRow.created_at))
                    .where(OutboxRow.status == "pending")
                    .group_by(OutboxRow.platform)
                ).all()
                due = s.execute(
                    select(OutboxRow.platform, func.count())
                    .where(OutboxRow.status == "pending", OutboxRow.kind == Kind.REMINDER.value)
                    .group_by(OutboxRow.platform)
                ).all()
                ack = s.scalar(
                    select(func.count())
                    .select_from(CaseRow)
                    .where(CaseRow.status == "new", CaseRow.ack_due < now)
                )
                feedback = s.scalar(
                    select(func.count())
                    .select_from(CaseRow)
                    .where(CaseRow.status.in_(OPEN), CaseRow.feedback_due < now)
                )
        except Exception:  # a scrape during an outage must still answer, saying so
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for platform, count, oldest in pending:
            depth.add_metric([platform], count)
            age.add_metric([platform], max(0.0, (now - oldest).total_seconds()) if oldest else 0)
        for platform, count in due:
            reminders.add_metric([platform], count)
        overdue.add_metric(["acknowledge"], ack or 0)
        overdue.add_metric(["feedback"], feedback or 0)
        yield from (depth, age, reminders, overdue)


class WriterQueueState(Collector):
    """SQLite only: this process's write transactions that queued for the single writer
    (bot/storage/db.WriterQueue). A rising wait is the sign to move to PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        q = self.db.writers
        if q is None:
            return
        waits = CounterMetricFamily(
            "ethicsbot_sqlite_write_waits", "write transactions that queued for SQLite's writer"
        )
        waits.add_metric([], q.waited)
        seconds = CounterMetricFamily(
            "ethicsbot_sqlite_write_wait_seconds", "time write transactions spent in that queue"
        )
        seconds.add_metric([], q.waited_seconds)
        refused = CounterMetricFamily(
            "ethicsbot_sqlite_write_refused",
            "write transactions that could not start within the busy timeout",
        )
        refused.add_metric([], q.refused)
        offloaded = CounterMetricFamily(
            "ethicsbot_sqlite_inline_offloaded",
            "consultation calls that found SQLite locked by another process and ran in a "
            "worker thread instead of on the event loop",
        )
        offloaded.add_metric([], q.offloaded)
        yield from (waits, seconds, refused, offloaded)


class Metrics:
    """This web app's registry: requests by route and status, latency, the shared gauges."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ethicsbot_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ethicsbot_http_request_duration_seconds",
            "time to answer (for Slack: the ack), by route pattern",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(SharedState(db, clock))
        self.registry.register(WriterQueueState(db))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition; blocking (it queries the database): run it in a thread."""
        return generate_latest(self.registry)
