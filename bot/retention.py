"""Retention: deleting what policies/retention.yaml says is no longer to be kept.

Consultations hold what colleagues typed; closed cases hold reports; exercise answers are
personal even under a pseudonym. Purging deletes rows (SQLite overwrites them, secure_delete
is on) and blanks the audit log's payloads for purged cases — the chained fields stay, so
`ethicsbot audit verify` still holds. Exercise results survive as the tally frozen at reveal.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from bot.core.policy import Retention
from bot.core.yamlsafe import load_yaml
from bot.storage.db import Database, rowcount
from bot.storage.tables import (
    AnswerRow,
    AuditRow,
    CaseEventRow,
    CaseRow,
    ExercisePostRow,
    OutboxRow,
    QuotaRow,
    ReminderRow,
    SeenEventRow,
    SessionRow,
)

log = logging.getLogger(__name__)


def load_retention(root: Path) -> Retention:
    path = root / "policies" / "retention.yaml"
    return (
        Retention.model_validate(load_yaml(path.read_bytes())[0]) if path.exists() else Retention()
    )


def purge(db: Database, policy: Retention, now: datetime) -> dict[str, int]:
    """Delete everything past its retention period; returns what was deleted, by kind."""
    done: dict[str, int] = {}
    with db.tx() as s:
        done["unfinished consultations"] = rowcount(
            s.execute(
                delete(SessionRow).where(
                    SessionRow.status == "active",
                    SessionRow.updated_at < now - policy.unfinished_consultations,
                )
            )
        )
        done["finished consultations"] = rowcount(
            s.execute(
                delete(SessionRow).where(
                    SessionRow.status == "finished",
                    SessionRow.updated_at < now - policy.finished_consultations,
                )
            )
        )
        old = list(
            s.scalars(
                select(CaseRow.id).where(
                    CaseRow.status == "closed", CaseRow.closed_at < now - policy.closed_cases
                )
            )
        )
        for table, column in (
            (CaseEventRow, CaseEventRow.case_id),
            (ReminderRow, ReminderRow.case_id),
            (OutboxRow, OutboxRow.case_id),
        ):
            s.execute(delete(table).where(column.in_(old)))
        s.execute(
            update(AuditRow)
            .where(AuditRow.subject.in_([f"case:{i}" for i in old]))
            .values(payload=None)
        )
        done["closed cases"] = rowcount(s.execute(delete(CaseRow).where(CaseRow.id.in_(old))))
        revealed = select(ExercisePostRow.id).where(
            ExercisePostRow.status == "revealed",
            ExercisePostRow.tally.is_not(None),
            ExercisePostRow.revealed_at < now - policy.exercise_answers,
        )
        done["exercise answers"] = rowcount(
            s.execute(delete(AnswerRow).where(AnswerRow.post_id.in_(revealed)))
        )
        s.execute(delete(SeenEventRow).where(SeenEventRow.at < now - timedelta(days=7)))
        s.execute(delete(QuotaRow).where(QuotaRow.hour < now - timedelta(hours=2)))
        s.execute(
            delete(OutboxRow).where(
                OutboxRow.status == "sent", OutboxRow.sent_at < now - timedelta(days=30)
            )
        )
    if db.engine.dialect.name == "sqlite":
        # deleted text must not linger in the write-ahead log either
        raw = db.engine.raw_connection()  # outside any transaction, as the pragma needs
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    log.info("purged %s", done)
    return done
