"""The figures behind the monthly compliance report and the trainer's exercise chart.

Read-only queries on the existing tables. One dict per report feeds the PNG, the CSV and
the JSON alike, so the numbers people see in the picture are the numbers they can export.
No cell below `MIN_GROUP` is ever shown: a breakdown of three cases in one topic can point
at a person, so such cells say "fewer than 5" (`None` in the data) instead of a count.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.cases.clocks import add_months
from bot.exercises.service import MIN_GROUP, ExerciseService
from bot.storage.db import Database
from bot.storage.tables import CaseEventRow, CaseRow, SessionRow

# the legal clocks the KPIs are measured against (EU Whistleblowing Directive art. 9(1)(b),
# (f)): acknowledge within 7 days, feedback within 3 months of the acknowledgement (or, when
# none was sent, of the end of the 7 days)
LEGAL_ACK = timedelta(days=7)
LEGAL_FEEDBACK_MONTHS = 3
EXERCISE_WEEKS = 12


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC: [start, end)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-11' -> Month(2026, 11); anything else is a ValueError."""
        y, _, m = text.partition("-")
        month = cls(int(y), int(m))
        if not 1 <= month.month <= 12 or len(text) != 7:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return month

    @classmethod
    def previous(cls, now: datetime) -> Month:
        """The last complete month before `now` (what a report on the 1st covers)."""
        first = now.astimezone(UTC).replace(day=1)
        last = first - timedelta(days=1)
        return cls(last.year, last.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return add_months(self.start, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def suppress(n: int) -> int | None:
    """A count is shown only from MIN_GROUP up; below that it is `None` ("fewer than 5").
    Zero is shown: it points at nobody (and "nobody missed the clock" is the news)."""
    return n if n >= MIN_GROUP or n == 0 else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (the value below which p% of cases fall; no interpolation,
    so the figure is always a real case's duration, as hotline benchmarks report it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    """The usual median (mean of the middle two for an even count)."""
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else round((s[mid - 1] + s[mid]) / 2, 2)


def _days(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds() / 86400, 2)


def _clock_kpis(durations: list[float], missed: int, total: int) -> dict[str, Any]:
    """Median / p90 and missed count for one clock; all suppressed under MIN_GROUP cases
    measured (a median of three durations is close to one person's case)."""
    shown = len(durations) >= MIN_GROUP
    return {
        "measured": suppress(len(durations)),
        "median_days": median(durations) if shown else None,
        "p90_days": percentile(durations, 90) if shown else None,
        "missed": suppress(missed) if total >= MIN_GROUP else None,
    }


def anything_in(db: Database, month: Month) -> bool:
    """Whether the month saw any case or finished consultation (a report of zeros is not
    worth a post: a bank that installs EthicsBot mid-month gets no empty report)."""
    with db.read() as s:
        case = s.scalar(
            select(CaseRow.id)
            .where(CaseRow.created_at >= month.start, CaseRow.created_at < month.end)
            .limit(1)
        )
        session = s.scalar(
            select(SessionRow.id)
            .where(
                SessionRow.status == "finished",
                SessionRow.updated_at >= month.start,
                SessionRow.updated_at < month.end,
            )
            .limit(1)
        )
    return case is not None or session is not None


def monthly(db: Database, month: Month, now: datetime) -> dict[str, Any]:
    """The monthly compliance KPIs for cases received in `month`, as of `now`.

    A case still open past its legal deadline at `now` counts as missed; one still within it
    is simply not measured yet.
    """
    with db.read() as s:
        cases = list(
            s.scalars(
                select(CaseRow).where(
                    CaseRow.created_at >= month.start, CaseRow.created_at < month.end
                )
            )
        )
        anon_ids = [c.id for c in cases if c.mode == "anonymous"]
        answered = (
            set(
                s.scalars(
                    select(CaseEventRow.case_id).where(
                        CaseEventRow.case_id.in_(anon_ids), CaseEventRow.kind == "answer"
                    )
                )
            )
            if anon_ids
            else set()
        )
        finished = (
            s.scalar(
                select(func.count())
                .select_from(SessionRow)
                .where(
                    SessionRow.status == "finished",
                    SessionRow.updated_at >= month.start,
                    SessionRow.updated_at < month.end,
                )
            )
            or 0
        )

    acks: list[float] = []
    ack_missed = 0
    closes: list[float] = []
    close_missed = 0
    for c in cases:
        legal_ack = c.created_at + LEGAL_ACK
        if c.acknowledged_at is not None:
            acks.append(_days(c.created_at, c.acknowledged_at))
            ack_missed += c.acknowledged_at > legal_ack
        elif now > legal_ack:
            ack_missed += 1
        legal_close = add_months(c.acknowledged_at or legal_ack, LEGAL_FEEDBACK_MONTHS)
        if c.closed_at is not None:
            closes.append(_days(c.created_at, c.closed_at))
            close_missed += c.closed_at > legal_close
        elif now > legal_close:
            close_missed += 1

    # consultations that ended in the month: finished sessions plus anonymous escalations
    # (whose session row is deleted when the case is filed, so they would be missing)
    from_consultations = [c for c in cases if c.tree_id is not None]
    anon_deleted = sum(1 for c in from_consultations if c.mode == "anonymous")
    consultations = finished + anon_deleted
    escalated = min(len(from_consultations), consultations)
    n_anon = len(anon_ids)

    topics = Counter(c.topic for c in cases)
    severities = Counter(c.severity for c in cases)
    return {
        "month": str(month),
        "as_of": now.astimezone(UTC).isoformat(timespec="seconds"),
        "cases": suppress(len(cases)),
        "by_topic": {t: suppress(n) for t, n in sorted(topics.items())}
        if len(cases) >= MIN_GROUP
        else {},
        "by_severity": {v: suppress(n) for v, n in sorted(severities.items())}
        if len(cases) >= MIN_GROUP
        else {},
        "acknowledge": {"legal_days": LEGAL_ACK.days, **_clock_kpis(acks, ack_missed, len(cases))},
        "close": {
            "legal_months": LEGAL_FEEDBACK_MONTHS,
            **_clock_kpis(closes, close_missed, len(cases)),
        },
        "consultations": suppress(consultations),
        "resolved_without_escalation": round(1 - escalated / consultations, 3)
        if consultations >= MIN_GROUP
        else None,
        "anonymous_cases": suppress(n_anon),
        "anonymous_follow_up_rate": round(len(answered) / n_anon, 3)
        if n_anon >= MIN_GROUP
        else None,
    }


def exercises(service: ExerciseService, now: datetime) -> list[dict[str, Any]]:
    """Per posted exercise over the last 12 weeks: participation and the share choosing the
    recommended answer, from ExerciseService.results (which already withholds the breakdown
    under MIN_GROUP answers); participation itself is shown as "fewer than 5" too."""
    since = now - timedelta(weeks=EXERCISE_WEEKS)
    out = []
    for r in service.results():
        if datetime.fromisoformat(r["posted_for"]).replace(tzinfo=UTC) < since:
            continue
        out.append(
            {
                "exercise": r["exercise"],
                "posted_for": r["posted_for"],
                "answers": suppress(r["answers"]),
                "recommended_share": r["recommended_share"],
            }
        )
    return out


def month_rows(report: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The monthly report flattened to (section, item, value) rows: what the CSV holds and,
    item for item, what the chart draws. `None` is written as "fewer than 5"."""
    rows: list[tuple[str, str, Any]] = [("cases", "received", report["cases"])]
    rows += [("by_topic", t, n) for t, n in report["by_topic"].items()]
    rows += [("by_severity", v, n) for v, n in report["by_severity"].items()]
    for clock in ("acknowledge", "close"):
        for k in ("measured", "median_days", "p90_days", "missed"):
            rows.append((clock, k, report[clock][k]))
    rows.append(("consultations", "finished", report["consultations"]))
    rows.append(
        ("consultations", "resolved_without_escalation", report["resolved_without_escalation"])
    )
    rows.append(("anonymous", "cases", report["anonymous_cases"]))
    rows.append(("anonymous", "follow_up_rate", report["anonymous_follow_up_rate"]))
    return rows
