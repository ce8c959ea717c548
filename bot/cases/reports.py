"""What compliance reports on: the queue, the figures, and exports for regulators.

Exports never carry identities: anonymous cases stay anonymous, and named reporters are
counted, not listed (the case file holds the rest for those entitled to it).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.cases.service import OPEN
from bot.storage.db import Database
from bot.storage.tables import CaseRow, CounterRow

EXPORT_FIELDS = [
    "ref",
    "mode",
    "topic",
    "severity",
    "status",
    "outcome",
    "created_at",
    "ack_due",
    "acknowledged_at",
    "feedback_due",
    "closed_at",
    "days_to_acknowledge",
    "days_to_close",
]


@dataclass(frozen=True)
class QueueItem:
    id: str
    ref: str
    topic: str
    severity: str
    status: str
    assignee: str | None
    due: datetime
    overdue: bool


@dataclass(frozen=True)
class Figures:
    by_topic: dict[str, int]
    by_severity: dict[str, int]
    median_days_to_ack: float | None
    median_days_to_close: float | None
    consultations_finished: int
    share_without_escalation: float | None


def queue(db: Database, officer: str, now: datetime) -> list[QueueItem]:
    """Open cases the officer may see, by the next due date, overdue first."""
    with db.tx() as s:
        rows = list(s.scalars(select(CaseRow).where(CaseRow.status.in_(OPEN))))
    items = []
    for c in rows:
        if officer in json.loads(c.excluded or "[]"):
            continue
        due = c.ack_due if c.status == "new" else (c.feedback_due or c.ack_due)
        items.append(
            QueueItem(c.id, c.ref, c.topic, c.severity, c.status, c.assignee, due, due < now)
        )
    return sorted(items, key=lambda i: (not i.overdue, i.due))


def _days(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds() / 86400, 2) if a and b else None


def figures(db: Database) -> Figures:
    with db.tx() as s:
        rows = list(s.scalars(select(CaseRow)))
        finished = s.get(CounterRow, "consultations-finished")
        escalated = s.get(CounterRow, "cases-escalated")
    acks = [d for c in rows if (d := _days(c.created_at, c.acknowledged_at)) is not None]
    closes = [d for c in rows if (d := _days(c.created_at, c.closed_at)) is not None]
    done = finished.value if finished else 0
    esc = escalated.value if escalated else 0
    return Figures(
        by_topic=dict(Counter(c.topic for c in rows)),
        by_severity=dict(Counter(c.severity for c in rows)),
        median_days_to_ack=statistics.median(acks) if acks else None,
        median_days_to_close=statistics.median(closes) if closes else None,
        consultations_finished=done,
        share_without_escalation=round(1 - min(esc, done) / done, 3) if done else None,
    )


def export_rows(db: Database) -> list[dict[str, Any]]:
    with db.tx() as s:
        rows = list(s.scalars(select(CaseRow).order_by(CaseRow.created_at)))
    out = []
    for c in rows:
        out.append(
            {
                "ref": c.ref,
                "mode": c.mode,
                "topic": c.topic,
                "severity": c.severity,
                "status": c.status,
                "outcome": c.outcome or "",
                "created_at": c.created_at.isoformat(),
                "ack_due": c.ack_due.isoformat(),
                "acknowledged_at": c.acknowledged_at.isoformat() if c.acknowledged_at else "",
                "feedback_due": c.feedback_due.isoformat() if c.feedback_due else "",
                "closed_at": c.closed_at.isoformat() if c.closed_at else "",
                "days_to_acknowledge": _days(c.created_at, c.acknowledged_at) or "",
                "days_to_close": _days(c.created_at, c.closed_at) or "",
            }
        )
    return out


def export(db: Database, fmt: str) -> str:
    rows = export_rows(db)
    if fmt == "json":
        return json.dumps(
            {"cases": rows, "figures": figures(db).__dict__}, indent=2, ensure_ascii=False
        )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
