"""Liveness and readiness, apart: `/healthz` says the process answers (a load balancer that
restarts on it must not restart every instance when the database blips); `/readyz` says this
instance can serve — database reachable, schema at the newest migration, content loaded."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.content import ContentSource
from bot.storage.db import MIGRATIONS, Database


@cache
def schema_head() -> str:
    """The newest migration shipped with this code."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # check -> "ok" or what is wrong (never a connection string)

    def as_json(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


def check(db: Database, content: ContentSource) -> Readiness:
    """Blocking (it queries the database); each check says what failed, in operators' words."""
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            checks["database"] = "ok"
            try:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:
                conn.rollback()
                conn.exec_driver_sql("SELECT 1")  # still there: the table is missing, not the db
                revision = None
    except Exception as exc:  # whatever the driver raises, the answer is "not reachable"
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["schema"] = "unknown"
    else:
        head = schema_head()
        checks["schema"] = (
            "ok"
            if revision == head
            else f"at {revision or 'no schema'}, this release needs {head}: "
            "run 'ethicsbot db upgrade'"
        )
    trees = len(content.trees)
    checks["content"] = "ok" if trees > 0 else "no valid tree loaded"
    return Readiness(all(v == "ok" for v in checks.values()), checks)
