"""The outbox: rows written with the change they announce, claimed and delivered later.

Claiming takes a lease, so several processes can run dispatchers on one database: a row is
worked on by one of them at a time, and a process that dies mid-delivery loses its lease
and the row is claimed again. `attempts` is raised in the claiming transaction, before any
post, so the next claimant knows a post may already have reached the platform and must
reconcile before posting again.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.tables import OutboxRow

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    case_id: str | None
    payload: dict[str, Any]
    attempts: int  # including this one
    created_at: datetime


def enqueue(
    s: Session,
    *,
    kind: str,
    case_id: str | None,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> OutboxRow:
    row = OutboxRow(
        kind=kind,
        case_id=case_id,
        payload=json.dumps(payload or {}),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return row


def claim(db: Database, now: datetime, limit: int = 10, lease: timedelta = LEASE) -> list[Job]:
    """Lease up to `limit` due rows to this process."""
    with db.tx() as s:
        q = (
            select(OutboxRow)
            .where(
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
            jobs.append(
                Job(r.id, r.kind, r.case_id, json.loads(r.payload), r.attempts, r.created_at)
            )
        return jobs


def done(db: Database, job_id: int, now: datetime, result: dict[str, Any]) -> None:
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
