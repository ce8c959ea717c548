"""`StorageUnavailable`: the database could not be reached or could not take the write.

Adapters tell the person "could not save, nothing was lost, try again in a minute" when they
catch it; they never import SQLAlchemy for that. The translation happens once, where every
transaction starts (`Database.tx` / `Database.read`), and only for faults that a retry a
minute later can cure: the server gone (connection refused or dropped), SQLite still locked
after its busy timeout, a full disk. Constraint violations and programming errors stay what
they are: retrying would not help, and hiding them would hide bugs.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import exc as sa

log = logging.getLogger(__name__)

# SQLite result codes (Python names them since 3.11) that mean "not now", not "never"
_SQLITE_TRANSIENT = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN"}
)


class StorageUnavailable(Exception):
    """The database is away, locked or full; nothing of this transaction was committed.

    The message is only the kind of fault and the driver's error class: never the statement
    or its parameters (they can hold what a reporter typed)."""

    def __init__(self, kind: str, cause: str) -> None:
        super().__init__(f"{kind} ({cause})")
        self.kind = kind  # "unreachable" | "locked" | "full"
        self.cause = cause


def transient(error: BaseException) -> StorageUnavailable | None:
    """The `StorageUnavailable` that `error` amounts to, or None if it is not a passing fault."""
    if isinstance(error, sa.TimeoutError):  # every pooled connection busy past pool_timeout
        return StorageUnavailable("unreachable", "PoolTimeout")
    if not isinstance(error, sa.DBAPIError):
        return None
    orig = error.orig
    cause = type(orig).__name__ if orig is not None else type(error).__name__
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "")
        if name not in _SQLITE_TRANSIENT:
            return None
        kind = {"SQLITE_FULL": "full", "SQLITE_BUSY": "locked", "SQLITE_LOCKED": "locked"}
        return StorageUnavailable(kind.get(name, "unreachable"), name)
    if error.connection_invalidated or isinstance(error, (sa.OperationalError, sa.InterfaceError)):
        # psycopg: connection refused/dropped, server shutting down, disk full (class 53)
        sqlstate = str(getattr(orig, "sqlstate", "") or "")
        return StorageUnavailable("full" if sqlstate == "53100" else "unreachable", cause)
    return None


def translated(error: BaseException) -> BaseException:
    """What `Database.tx` raises instead of `error`: logged once, in one line, by class only."""
    unavailable = transient(error)
    if unavailable is None:
        return error
    log.warning("database unavailable: %s", unavailable)
    return unavailable
