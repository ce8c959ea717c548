"""The append-only, hash-chained audit log.

Each entry commits to the previous one: hash = sha256 of (seq, at, action, subject, result,
prev_hash). Those chained fields never hold personal data (subjects are opaque ids), so
retention may blank `payload` — where actor and details live — without breaking the chain.
Editing, deleting or reordering a row is found by `verify`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.tables import AuditRow

GENESIS = "0" * 64
_PG_LOCK = 7406120002


def entry_hash(seq: int, at: str, action: str, subject: str, result: str, prev: str) -> str:
    body = json.dumps(
        [seq, at, action, subject, result, prev], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    s: Session,
    *,
    at: datetime,
    action: str,
    subject: str,
    result: str = "ok",
    payload: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one entry inside the caller's transaction (so it commits with the change)."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
    last = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    stamp = at.isoformat(timespec="seconds")
    row = AuditRow(
        seq=seq,
        at=stamp,
        action=action,
        subject=subject,
        result=result,
        prev_hash=prev,
        hash=entry_hash(seq, stamp, action, subject, result, prev),
        payload=json.dumps(payload, ensure_ascii=False) if payload else None,
    )
    s.add(row)
    s.flush()
    return row


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head: str
    first_bad: int | None = None
    reason: str = ""


def verify(s: Session) -> Verdict:
    """Walk the chain in order; report the first entry that does not fit."""
    prev = GENESIS
    expected = 1
    n = 0
    for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)):
        n += 1
        if row.seq != expected:
            return Verdict(False, n, prev, expected, f"entry {expected} is missing")
        if row.prev_hash != prev:
            return Verdict(False, n, prev, row.seq, "does not follow the previous entry")
        if entry_hash(row.seq, row.at, row.action, row.subject, row.result, prev) != row.hash:
            return Verdict(False, n, prev, row.seq, "content does not match its hash")
        prev = row.hash
        expected += 1
    return Verdict(True, n, prev)
