"""Named counters incremented atomically inside the caller's transaction (safe across
instances: insert-if-missing, then an UPDATE that row-locks on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.storage.tables import CounterRow


def bump(s: Session, name: str) -> int:
    """Add one to counter `name` and return its new value."""
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(ins(CounterRow).values(name=name, value=0).on_conflict_do_nothing())
    return int(s.execute(update(CounterRow).where(CounterRow.name == name)
                         .values(value=CounterRow.value + 1)
                         .returning(CounterRow.value)).scalar_one())
