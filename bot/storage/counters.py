"""Named counters incremented atomically inside the caller's transaction (safe across
instances: insert-if-missing, then an UPDATE that row-locks on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.storage.db import Database, insert
from bot.storage.tables import CounterRow


def bump(s: Session, name: str) -> int:
    """Add one to counter `name` and return its new value."""
    s.execute(insert(s)(CounterRow).values(name=name, value=0).on_conflict_do_nothing())
    return int(
        s.execute(
            update(CounterRow)
            .where(CounterRow.name == name)
            .values(value=CounterRow.value + 1)
            .returning(CounterRow.value)
        ).scalar_one()
    )


def value(db: Database, name: str) -> int:
    """The counter's current value (0 if never bumped), read without the write lock."""
    with db.read() as s:
        row = s.get(CounterRow, name)
        return int(row.value) if row else 0
