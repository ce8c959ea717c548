"""The pseudonym key: the operator's, or one generated once and kept in the database.

Kept in the database rather than a local file because two instances behind a load balancer
must pseudonymise a person the same way; an operator who wants the key apart from the data
(the stronger set-up, required in production) sets ETHICSBOT_SECRET_KEY.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from sqlalchemy import select

from bot.storage.db import Database, insert
from bot.storage.tables import InstanceSecretRow

log = logging.getLogger(__name__)

NAME = "pseudonym_key"


def stored_key(db: Database) -> str:
    """The generated key, made by whichever instance asks first (the others read it)."""
    with db.tx() as s:
        found = s.scalar(select(InstanceSecretRow.value).where(InstanceSecretRow.name == NAME))
        if found:
            return found
        s.execute(
            insert(s)(InstanceSecretRow)
            .values(name=NAME, value=secrets.token_urlsafe(32), created_at=_now())
            .on_conflict_do_nothing(index_elements=["name"])
        )
    with db.read() as s:
        value = s.scalar(select(InstanceSecretRow.value).where(InstanceSecretRow.name == NAME))
    log.warning(
        "ETHICSBOT_SECRET_KEY is not set: using a pseudonym key generated once and stored in "
        "the database; set ETHICSBOT_SECRET_KEY to keep the key apart from the data"
    )
    assert value
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
