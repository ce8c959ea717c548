"""The composition root: builds the real parts (or takes fakes) and wires them together."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.cases.roles import Roles, load_roles
from bot.cases.service import CaseService
from bot.config import Settings
from bot.content import ContentSource
from bot.delivery.signals import Signals
from bot.exercises.service import ExerciseService
from bot.identity import derive_key, make_pseudonymizer
from bot.reflection.policy import PolicyFile
from bot.reflection.service import ReflectionService
from bot.reports.service import ReportService
from bot.service import Clock, ConsultationService, utcnow
from bot.storage.db import Database, upgrade
from bot.storage.secrets import stored_key


@dataclass
class Services:
    settings: Settings
    db: Database
    content: ContentSource
    consult: ConsultationService
    cases: CaseService
    exercises: ExerciseService
    reflection: ReflectionService
    roles: Roles
    clock: Clock
    signals: Signals
    reports: ReportService


def bootstrap(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    db: Database | None = None,
    roles: Roles | None = None,
) -> Services:
    """Nothing is built at import time; tests pass their own settings, clock or database."""
    db = db or Database(settings.database_url)
    if settings.auto_migrate:
        upgrade(db.engine)
    content = ContentSource(settings.content, db, settings.environ)
    key = derive_key(settings.secret_key or stored_key(db))
    pseudonym = make_pseudonymizer(key)
    consult = ConsultationService(db=db, content=content, clock=clock, pseudonym=pseudonym)
    role_map = roles or load_roles(settings.content, settings.environ)
    signals = Signals()
    cases = CaseService(
        db=db,
        policy=lambda: content.content.escalation,
        roles=lambda: role_map,
        clock=clock,
        key=hashlib.sha256(b"cases:" + key).digest(),
        desks=lambda: settings.desks,
        signals=signals,
        consultations=consult,
    )
    exercises = ExerciseService(
        db=db,
        exercises=lambda: content.content.exercises,
        roles=lambda: role_map,
        clock=clock,
        pseudonym=pseudonym,
        signals=signals,
    )
    reports = ReportService(
        db=db,
        exercises=exercises,
        clock=clock,
        desks=lambda: settings.desks,
        signals=signals,
    )
    reflection = ReflectionService(
        db=db,
        content=content,
        policy=PolicyFile(settings.content),
        clock=clock,
        pseudonym=pseudonym,
        signals=signals,
    )
    consult.on_outcome = reflection.schedule
    return Services(
        settings=settings,
        db=db,
        content=content,
        consult=consult,
        cases=cases,
        exercises=exercises,
        reflection=reflection,
        roles=role_map,
        clock=clock,
        signals=signals,
        reports=reports,
    )
