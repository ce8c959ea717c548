"""The composition root: builds the real parts (or takes fakes) and wires them together."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.content import ContentSource
from bot.service import Clock, ConsultationService, utcnow
from bot.storage.db import Database, upgrade


@dataclass
class Services:
    settings: Settings
    db: Database
    content: ContentSource
    consult: ConsultationService


def bootstrap(settings: Settings, *, clock: Clock = utcnow, db: Database | None = None) -> Services:
    """Nothing is built at import time; tests pass their own settings, clock or database."""
    db = db or Database(settings.database_url)
    if settings.auto_migrate:
        upgrade(db.engine)
    content = ContentSource(settings.content, db, settings.environ)
    consult = ConsultationService(db=db, content=content, clock=clock)
    return Services(settings=settings, db=db, content=content, consult=consult)
