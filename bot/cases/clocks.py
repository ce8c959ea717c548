"""Legal and internal clocks of a case, and the points at which reminders fall due (pure)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from bot.core.model import Severity
from bot.core.policy import Clock

OVERDUE_REPEAT = timedelta(days=1)


def add_months(when: datetime, months: int) -> datetime:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month = when.month - 1 + months
    year = when.year + month // 12
    month = month % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def acknowledge_due(clock: Clock, severity: Severity, created: datetime) -> datetime:
    """Internal target by severity, never later than the legal default (7 days)."""
    window = clock.acknowledge_by_severity.get(severity, clock.acknowledge_default)
    return created + min(window, clock.acknowledge_default)


def feedback_due(clock: Clock, acknowledged: datetime) -> datetime:
    return add_months(acknowledged, clock.feedback_months)


def due_points(clock: Clock, start: datetime, due: datetime, now: datetime) -> list[str]:
    """Names of every reminder point passed by `now`: shares of the window, then 'overdue-N'
    once a day after the deadline, so reminders repeat until the clock is stopped."""
    window = due - start
    points = [f"{share:g}" for share in clock.remind_at if now >= start + window * share]
    if now >= due:
        n = int((now - due) / OVERDUE_REPEAT)
        points += [f"overdue-{i}" for i in range(n + 1)]
    return points
