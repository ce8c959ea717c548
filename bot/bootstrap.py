"""The composition root: builds the real parts (or takes fakes) and wires them together."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.content import ContentSource
from bot.identity import derive_key, make_pseudonymizer
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
    pseudonym = make_pseudonymizer(derive_key(settings.secret_key, settings.slack_signing_secret))
    consult = ConsultationService(db=db, content=content, clock=clock, pseudonym=pseudonym)
    return Services(settings=settings, db=db, content=content, consult=consult)
