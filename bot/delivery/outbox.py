"""The outbox: rows written with the change they announce, claimed and delivered later.

Every row names its target platform, and a worker claims only its own platform's rows, so a
Teams worker never takes a Slack card. Claiming takes a lease, so several processes can run
workers on one database: a row is worked on by one of them at a time, and a process that
dies mid-delivery loses its lease and the row is claimed again. `attempts` is raised in the
claiming transaction, before any post, so the next claimant knows a post may already have
reached the platform and must reconcile before posting again.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.storage.db import Database, rowcount
from bot.storage.tables import OutboxRow

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=5)


class Kind(StrEnum):
    """What a row asks the platform to do; each deliverer handles every kind."""

    CASE_CARD = "case_card"  # payload: {"destination": str}
    CARD_UPDATE = "card_update"  # payload: {}
    REMINDER = "reminder"  # payload: {"clock": str, "point": str}
    RELAY_QUESTION = "relay_question"  # payload: {}
    NOTIFY_ASSIGNEE = "notify_assignee"  # payload: {}
    EXERCISE_POST = "exercise_post"  # payload: {"post_id": str}
    EXERCISE_REVEAL = "exercise_reveal"  # payload: {"post_id": str}
    MONTHLY_REPORT = "monthly_report"  # payload: {"month": "YYYY-MM"}
    REFLECTION_ASK = "reflection_ask"  # payload: {"session_id": str}; the person's platform


# the payload keys each kind must carry, checked when the row is written
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.CASE_CARD: ("destination",),
    Kind.REMINDER: ("clock", "point"),
    Kind.EXERCISE_POST: ("post_id",),
    Kind.EXERCISE_REVEAL: ("post_id",),
    Kind.MONTHLY_REPORT: ("month",),
    Kind.REFLECTION_ASK: ("session_id",),
}
CASE_KINDS = frozenset(
    {Kind.CASE_CARD, Kind.CARD_UPDATE, Kind.REMINDER, Kind.RELAY_QUESTION, Kind.NOTIFY_ASSIGNEE}
)


@dataclass(frozen=True)
class Job:
    id: int
    platform: str
    kind: Kind
    case_id: str | None
    payload: dict[str, str]
    attempts: int  # including this one
    created_at: datetime
    last_error: str | None = None  # why the previous attempt did not complete


def enqueue(
    s: Session,
    *,
    platform: str,
    kind: Kind,
    case_id: str | None,
    now: datetime,
    payload: dict[str, str] | None = None,
) -> OutboxRow:
    """Write a row in the caller's transaction. Platform and kind are required and checked:
    a row nobody can deliver would wait forever."""
    kind = Kind(kind)
    if not platform or ":" in platform:
        raise ValueError(f"bad outbox platform {platform!r}")
    body = payload or {}
    missing = [k for k in REQUIRED.get(kind, ()) if k not in body]
    if missing:
        raise ValueError(f"outbox {kind.value} needs {', '.join(missing)}")
    if kind in CASE_KINDS and case_id is None:
        raise ValueError(f"outbox {kind.value} needs a case id")
    row = OutboxRow(
        platform=platform,
        kind=kind.value,
        case_id=case_id,
        payload=json.dumps(body),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return row


def claim(
    db: Database, platform: str, now: datetime, limit: int = 10, lease: timedelta = LEASE
) -> list[Job]:
    """Lease up to `limit` due rows of `platform` to this process."""
    with db.tx() as s:
        q = (
            select(OutboxRow)
            .where(
                OutboxRow.platform == platform,
                OutboxRow.status == "pending",
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = list(s.scalars(q))
        jobs = []
        for r in rows:
            r.attempts += 1
            r.claimed_until = now + lease
            payload: dict[str, Any] = json.loads(r.payload)
            jobs.append(
                Job(
                    r.id,
                    r.platform,
                    Kind(r.kind),
                    r.case_id,
                    {k: str(v) for k, v in payload.items()},
                    r.attempts,
                    r.created_at,
                    r.last_error,
                )
            )
        return jobs


def renew(db: Database, job: Job, now: datetime, lease: timedelta = LEASE) -> bool:
    """Extend this claim's lease while its delivery is still running.

    A chart render or a slow platform can outlast the lease; without renewal another
    instance would claim the row mid-delivery and post a second time. The row's attempt
    count is the fencing token: once another worker has re-claimed it (its count moved on),
    this claim is over and renewing it is refused. Returns whether the claim is still ours."""
    with db.tx() as s:
        result = s.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == job.id,
                OutboxRow.status == "pending",
                OutboxRow.attempts == job.attempts,
                OutboxRow.claimed_until.is_not(None),
            )
            .values(claimed_until=now + lease)
        )
        return rowcount(result) == 1


def done(db: Database, job_id: int, now: datetime, result: dict[str, str]) -> None:
    with db.tx() as s:
        row = s.get(OutboxRow, job_id)
        if row is not None:
            row.status, row.sent_at, row.claimed_until = "sent", now, None
            row.result = json.dumps(result)


def retry(
    db: Database, job: Job, now: datetime, error: str, after: timedelta | None = None
) -> datetime:
    """Put the row back for later: `after` (Retry-After) or exponential back-off with jitter."""
    if after is None:
        base = min(timedelta(seconds=2 ** min(job.attempts, 10)), MAX_BACKOFF)
        after = base * (0.5 + random.random() / 2)
    at = now + after
    with db.tx() as s:
        row = s.get(OutboxRow, job.id)
        if row is not None:
            row.next_attempt_at, row.claimed_until, row.last_error = at, None, error[:200]
    return at
