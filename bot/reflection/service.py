"""The reflection follow-up: scheduled at the outcome, asked once, answered under a pseudonym.

Every adapter calls this service; nothing here knows a platform. The schedule lives in the
database, one row per consultation (`reflections`), so it survives restarts and is shared by
every instance: a due row moves from `scheduled` to `queued` in the same transaction that
writes its outbox row (kind `reflection_ask`, the platform of the person's identity), under a
row lock on PostgreSQL and SQLite's write lock, so two instances never both queue it and a
process that was down catches up on its next tick without sending twice.

Privacy: answers sit under the consultation's keyed pseudonym. The platform identity needed
to send the ask is kept on the row only until it is sent or skipped. Rows are deleted with
their consultation (foreign key ON DELETE CASCADE), so a purged consultation, or the one an
anonymous report unlinked, is never asked about and leaves no answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.content import ContentSource
from bot.core.engine import OutcomeReached
from bot.core.session import SessionState
from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.signals import Signals
from bot.identity import Pseudonymizer
from bot.reflection.policy import ReflectionPolicy
from bot.service import Clock, Refused
from bot.storage.db import Database, insert, rowcount
from bot.storage.tables import ReflectionOptOutRow, ReflectionRow

log = logging.getLogger(__name__)

TurnedOut = Literal["better", "as_expected", "worse"]
TURNED_OUT: tuple[TurnedOut, ...] = ("better", "as_expected", "worse")
LEARNED_MAX = 200  # "one line"
LEARNED_RAW_MAX = 1000  # of the untrusted text, cut before it is folded to one line
BATCH = 100  # rows queued per tick; the next tick takes the rest
SESSION_ID = re.compile(r"^[0-9a-f-]{36}$")


@dataclass(frozen=True)
class AskView:
    """What an adapter needs to put the question to the person."""

    session_id: str
    address: str  # the platform identity ("slack:T1:U1"); never stored after the ask
    lang: str
    title: str  # of the tree, in the person's language
    headline: str  # of the outcome they reached
    days: int  # since the outcome


@dataclass(frozen=True)
class Answered:
    session_id: str
    turned_out: TurnedOut
    # how to offer escalation when it turned out worse: "session" reopens the report of that
    # consultation (its outcome offered one), "fresh" a report without it, None no offer
    escalate: Literal["session", "fresh"] | None


Unfinished = Literal["session", "same_again", "turned_out"]


@dataclass(frozen=True)
class Submission:
    """The answer as the person submitted it, checked and ready for `ReflectionService.answer`."""

    session_id: str
    turned_out: TurnedOut
    same_again: bool
    learned: str


def parse_submission(
    session_id: object, turned_out: str, same_again: str, learned: str
) -> Submission | Unfinished:
    """Check the values a platform took from the submitted questions (all untrusted: any
    client can send anything). Returns the submission, or the first thing wrong with it:
    "session" (a malformed session id: nobody's own client sends that, so it is forged),
    "same_again" or "turned_out" (a question not answered, or answered with no option the
    questions offered). One place for both platforms, so they accept exactly the same."""
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        return "session"
    if same_again not in ("yes", "no"):
        return "same_again"
    if turned_out not in TURNED_OUT:
        return "turned_out"
    return Submission(session_id, turned_out, same_again == "yes", learned[:LEARNED_RAW_MAX])


class ReflectionService:
    def __init__(
        self,
        *,
        db: Database,
        content: ContentSource,
        policy: Callable[[], ReflectionPolicy],
        clock: Clock,
        pseudonym: Pseudonymizer,
        signals: Signals,
    ) -> None:
        self.db = db
        self.content = content
        self.policy = policy
        self.clock = clock
        self.who = pseudonym
        self.signals = signals

    # -- scheduling (in the consultation's own transaction) ---------------------------------

    def schedule(self, s: Session, identity: str, state: SessionState, ev: OutcomeReached) -> None:
        """Plan the follow-up of an outcome just reached (ConsultationService.on_outcome).

        A triage hand-off is no decision, and the console has nobody to come back to: neither
        is scheduled. Reaching another outcome of the same consultation (Back, choose again)
        replaces a follow-up not yet sent."""
        pol = self.policy()
        platform = identity.split(":", 1)[0]
        tree = self.content.tree(ev.tree_id, state.tree_version)
        node = tree.nodes.get(ev.node) if tree else None
        if (
            tree is None
            or node is None
            or node.outcome is None
            or node.outcome.handoff
            or platform not in pol.platforms
            or not pol.applies(ev.tree_id, ev.severity)
        ):
            return
        owner = self.who(identity)
        if s.get(ReflectionOptOutRow, owner) is not None:
            return
        now = self.clock()
        values = {
            "tree_id": ev.tree_id,
            "tree_version": state.tree_version,
            "outcome": ev.node,
            "severity": ev.severity,
            "escalation": ev.escalation,
            "lang": state.lang,
            "reached_at": now,
            "due_at": now + timedelta(days=pol.after_days),
        }
        stmt = insert(s)(ReflectionRow).values(
            session_id=state.id,
            owner=owner,
            platform=platform,
            address=identity,
            status="scheduled",
            **values,
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["session_id"],
                set_=values,
                where=ReflectionRow.status == "scheduled",
            )
        )

    # -- the scheduler ----------------------------------------------------------------------

    def tick(self) -> int:
        """Queue every due follow-up (also those missed while no instance ran). Returns how
        many were queued. Safe to run on every instance at any time."""
        now = self.clock()
        pol = self.policy()
        platforms: set[str] = set()
        queued = 0
        with self.db.tx() as s:
            q = (
                select(ReflectionRow)
                .where(ReflectionRow.status == "scheduled", ReflectionRow.due_at <= now)
                .order_by(ReflectionRow.due_at)
                .limit(BATCH)
            )
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            for row in s.scalars(q):
                opted_out = s.get(ReflectionOptOutRow, row.owner) is not None
                if opted_out or not pol.applies(row.tree_id, row.severity) or not row.address:
                    row.status, row.address = "skipped", None
                    continue
                row.status = "queued"
                outbox.enqueue(
                    s,
                    platform=row.platform,
                    kind=Kind.REFLECTION_ASK,
                    case_id=None,
                    now=now,
                    payload={"session_id": row.session_id},
                )
                platforms.add(row.platform)
                queued += 1
        if platforms:
            log.info("queued reflection follow-ups for %s", ", ".join(sorted(platforms)))
            self.signals.notify(platforms)
        return queued

    # -- delivery (called by each platform's deliverer) -------------------------------------

    def pending(self, session_id: str) -> AskView | None:
        """The ask to send for an outbox row, or None when it must not go any more (the
        consultation was purged, the person opted out, or it was sent already)."""
        now = self.clock()
        with self.db.read() as s:
            row = s.get(ReflectionRow, session_id)
            if row is None or row.status != "queued" or not row.address:
                return None
            if s.get(ReflectionOptOutRow, row.owner) is not None:
                return None
            tree = self.content.tree(row.tree_id, row.tree_version)
            node = tree.nodes.get(row.outcome) if tree else None
            if tree is None or node is None or node.outcome is None:
                return None
            days = max(1, (now - row.reached_at).days)
            return AskView(
                session_id=row.session_id,
                address=row.address,
                lang=row.lang,
                title=tree.title.get(row.lang),
                headline=node.outcome.headline.get(row.lang),
                days=days,
            )

    def mark_asked(self, session_id: str) -> None:
        """The ask reached the platform: forget where it was sent."""
        with self.db.tx() as s:
            s.execute(
                update(ReflectionRow)
                .where(ReflectionRow.session_id == session_id, ReflectionRow.status == "queued")
                .values(status="asked", asked_at=self.clock(), address=None)
            )

    def drop(self, session_id: str) -> None:
        """The ask will not be sent (the person cannot be reached): forget the address."""
        with self.db.tx() as s:
            s.execute(
                update(ReflectionRow)
                .where(ReflectionRow.session_id == session_id, ReflectionRow.status == "queued")
                .values(status="skipped", address=None)
            )

    # -- the person -------------------------------------------------------------------------

    def answer(
        self,
        identity: str,
        session_id: str,
        *,
        turned_out: str,
        same_again: bool,
        learned: str = "",
    ) -> Answered:
        """Store the answer under the pseudonym; a second answer replaces the first.
        Raises Refused('invalid' | 'gone' | 'not_yours')."""
        if turned_out not in TURNED_OUT:
            raise Refused("invalid", "unknown answer")
        line = " ".join(learned.split())[:LEARNED_MAX] or None
        owner = self.who(identity)
        with self.db.tx() as s:
            row = s.get(ReflectionRow, session_id)
            if row is None or row.status not in ("asked", "answered", "queued"):
                raise Refused("gone")
            if row.owner != owner:
                raise Refused("not_yours")
            row.status, row.answered_at, row.address = "answered", self.clock(), None
            row.turned_out, row.same_again, row.learned = turned_out, same_again, line
            escalation = row.escalation
        offer: Literal["session", "fresh"] | None = None
        if turned_out == "worse":
            offer = "session" if escalation in ("offered", "required") else "fresh"
        return Answered(session_id, turned_out, offer)

    def opt_out(self, identity: str) -> int:
        """For good: nothing is sent to this person again. Returns the follow-ups cancelled."""
        owner = self.who(identity)
        now = self.clock()
        with self.db.tx() as s:
            s.execute(
                insert(s)(ReflectionOptOutRow).values(owner=owner, at=now).on_conflict_do_nothing()
            )
            done = s.execute(
                update(ReflectionRow)
                .where(
                    ReflectionRow.owner == owner,
                    ReflectionRow.status.in_(("scheduled", "queued")),
                )
                .values(status="skipped", address=None)
            )
        return rowcount(done)

    def opted_out(self, identity: str) -> bool:
        with self.db.read() as s:
            return s.get(ReflectionOptOutRow, self.who(identity)) is not None
