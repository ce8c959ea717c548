"""Reports that go out by themselves: the monthly compliance report and exercise charts.

The monthly report is queued once per month, on the first working day (Monday to Friday;
public holidays are the bank's to skip by hand), from 09:00 in the report time zone: a named
counter taken in the same transaction as the outbox rows makes exactly one instance of a
deployment queue it, and a process that was down that morning catches up on a later tick,
within the first ten days of the month (after that a report for a month long gone would
surprise people more than help them). Each desk platform gets its own row; the deliverers
fetch the files from here, so Slack and Teams show the same numbers as `ethicsbot report`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.signals import Signals
from bot.exercises.service import ExerciseService
from bot.reports import stats
from bot.service import Clock
from bot.storage import counters
from bot.storage.db import Database

if TYPE_CHECKING:
    from bot.reports.charts import Chart, Size

log = logging.getLogger(__name__)

REPORT_TZ = ZoneInfo("Asia/Shanghai")
REPORT_AT = time(9, 0)
CATCH_UP_DAYS = 10


@dataclass(frozen=True)
class ReportFiles:
    """One report as a chat post: the picture, its alt text, the same numbers as CSV."""

    month: str  # the period covered: "2026-11", or "2026-09-14..2026-12-07" for exercises
    png: bytes
    alt: str
    csv: bytes
    title: str


def first_working_day(year: int, month: int) -> datetime:
    """09:00 (report time zone) on the first Monday-to-Friday of the month."""
    day = datetime(year, month, 1, tzinfo=REPORT_TZ)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day.date(), REPORT_AT, tzinfo=REPORT_TZ)


class ReportService:
    def __init__(
        self,
        *,
        db: Database,
        exercises: ExerciseService,
        clock: Clock,
        desks: Callable[[], tuple[str, ...]],
        signals: Signals,
    ) -> None:
        self.db = db
        self.exercises = exercises
        self.clock = clock
        self.desks = desks
        self.signals = signals

    def due_month(self, now: datetime) -> stats.Month | None:
        """The month whose report is due at `now`, or None outside the posting window."""
        local = now.astimezone(REPORT_TZ)
        opens = first_working_day(local.year, local.month)
        if not opens <= local < opens + timedelta(days=CATCH_UP_DAYS):
            return None
        return stats.Month.previous(now)

    def tick(self) -> bool:
        """Queue the monthly report if it is due and nobody has; True when this call did."""
        now = self.clock()
        month = self.due_month(now)
        if month is None:
            return False
        key = f"{month.year:04d}-{month.month:02d}"
        name = f"monthly-report:{key}"
        if counters.value(self.db, name):
            return False  # the common case: this month's report is settled
        empty = not stats.anything_in(self.db, month)
        with self.db.tx() as s:
            if counters.bump(s, name) != 1:
                return False  # queued before, by this or another instance
            if empty:
                log.info("monthly report for %s: nothing happened that month; not posted", key)
                return False
            for platform in self.desks():
                outbox.enqueue(
                    s,
                    platform=platform,
                    kind=Kind.MONTHLY_REPORT,
                    case_id=None,
                    now=now,
                    payload={"month": key},
                )
        log.info("monthly report for %s queued for %s", key, ", ".join(self.desks()))
        self.signals.notify()
        return True

    def monthly_files(self, month: str, lang: str = "en", size: Size | None = None) -> ReportFiles:
        """The report for `month` ('2026-11') as of now: chart, alt text and CSV. `size`:
        how finely the chart is drawn (Teams cards carry it inline, so smaller)."""
        from bot.reports import charts, export  # matplotlib: loaded when a report is drawn

        m = stats.Month.parse(month)
        now = self.clock()
        report = stats.monthly(self.db, m, now)
        chart = charts.monthly_chart(report, lang, size or charts.FULL)
        title = f"{month} 合规月报" if lang == "zh" else f"Compliance report for {month}"
        return ReportFiles(
            month, chart.png, chart.alt, export.monthly(self.db, m, now, "csv", lang), title
        )

    def exercise_results(
        self, trainer: str, lang: str = "en", size: Size | None = None
    ) -> ReportFiles | None:
        """A trainer's view of the last 12 weeks of exercises: participation and the share
        choosing the recommended answer, as a chart with alt text plus the same numbers as
        CSV; None when nothing was posted in that time. Trainers only (refusals audited):
        the figures are aggregates (fewer than five shown as such), but which exercises ran
        where is still the training team's business."""
        from bot.reports import charts, export

        self.exercises.require_trainer(trainer, "results", "exercises")
        now = self.clock()
        rows = stats.exercises(self.exercises, now)
        if not rows:
            return None
        chart = charts.exercises_chart(rows, lang, size or charts.FULL)
        title = "近 12 周练习结果" if lang == "zh" else "Exercise results, last 12 weeks"
        days = sorted(r["posted_for"][:10] for r in rows)
        period = f"{days[0]}..{days[-1]}"
        csv = export.exercises(self.exercises, now, "csv", lang)
        return ReportFiles(period, chart.png, chart.alt, csv, title)

    def reveal_chart(
        self, post_id: str, lang: str = "en", size: Size | None = None
    ) -> Chart | None:
        """The answer distribution of a revealed exercise; None under five answers."""
        from bot.reports import charts

        post = self.exercises.post(post_id)
        return charts.reveal_chart(post.exercise, post.counts, lang, size or charts.FULL)
