"""The case desk: escalations in, officer actions, reporter follow-up, reminders.

Every change is one transaction holding the case, its timeline entry, its audit entry and an
outbox row for the platform, so a crash can delay what compliance sees but never lose it or
show it twice. Every officer action is re-checked here against roles.yaml and the case's
exclusions; refusals are audited and change nothing.

Anonymous reports store no identity: no user id, no DM, no hash of either; the consultation
that led to them is deleted; their times are coarsened to the hour.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.cases.clocks import acknowledge_due, due_points, feedback_due
from bot.cases.roles import COMPLIANCE, LEAD, Roles, split_identity
from bot.core.model import Severity
from bot.core.policy import EscalationPolicy
from bot.core.replies import DecisionRecord
from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.signals import Signals
from bot.service import Clock, ConsultationService, Refused
from bot.storage import audit, counters
from bot.storage.db import Database, insert, rowcount
from bot.storage.tables import (
    CaseEventRow,
    CaseRow,
    QuotaRow,
    ReminderRow,
    SeenEventRow,
    SessionRow,
)

if TYPE_CHECKING:
    from bot.cases.reports import Figures, QueueItem

log = logging.getLogger(__name__)

Mode = Literal["named", "confidential", "anonymous"]
MODES: tuple[Mode, ...] = ("named", "confidential", "anonymous")
MIN_PASSPHRASE = 8
OUTCOMES = ("substantiated", "not_substantiated", "advice_given", "referred")
OPEN = ("new", "acknowledged", "investigating")
REMIND_CHUNK = 500  # open cases read per read transaction by the reminder scan


def hour_floor(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def _hash_passphrase(passphrase: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(passphrase.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check_passphrase(passphrase: str, stored: str) -> bool:
    try:
        _, salt, _digest = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(_hash_passphrase(passphrase, bytes.fromhex(salt)), stored)


def receipt_digest(code: str) -> str:
    return hashlib.sha256(("receipt:" + code.strip().upper()).encode()).hexdigest()


def new_receipt() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"R-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


@dataclass(frozen=True)
class Receipt:
    case_id: str
    ref: str
    mode: Mode
    receipt_code: str | None = None


@dataclass(frozen=True)
class CaseView:
    """What a screen may show of a case. `reporter` is filled only where the viewer may see it."""

    id: str
    ref: str
    mode: str
    topic: str
    severity: str
    status: str
    assignee: str | None
    created_at: datetime
    ack_due: datetime
    feedback_due: datetime | None
    outcome: str | None
    card: dict[str, dict[str, str]] = field(default_factory=dict)  # platform -> location
    reporter: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    narrative: str | None = None
    timeline: tuple[tuple[datetime, str, str | None, str | None], ...] = ()
    version: int = 1


@dataclass(frozen=True)
class ReporterView:
    ref: str
    status: str
    questions: tuple[tuple[datetime, str, str | None], ...]  # (asked at, question, answer)
    token: str


class CaseService:
    def __init__(
        self,
        *,
        db: Database,
        policy: Callable[[], EscalationPolicy],
        roles: Callable[[], Roles],
        clock: Clock,
        key: bytes,
        desks: Callable[[], tuple[str, ...]],
        signals: Signals,
        consultations: ConsultationService,
    ) -> None:
        self.db = db
        self.consultations = consultations
        self.policy = policy
        self.roles = roles
        self.clock = clock
        self.key = key
        self.desks = desks  # the platforms whose compliance desk gets every case's card
        self.signals = signals  # wakes this process's workers after a commit

    def _to_desks(
        self,
        s: Any,
        kind: Kind,
        case_id: str,
        now: datetime,
        payload: dict[str, str] | None = None,
    ) -> None:
        """One outbox row per desk platform: a bank on both platforms sees both cards."""
        for platform in self.desks():
            outbox.enqueue(
                s, platform=platform, kind=kind, case_id=case_id, now=now, payload=payload
            )

    # -- escalating ---------------------------------------------------------------------------

    def _quota(self, s: Any, reporter_identity: str, now: datetime) -> None:
        """Per-reporter hourly limit. The key is an HMAC with an hour-scoped key, deleted after
        the hour, so it cannot link reports across hours nor name anyone."""
        hour = hour_floor(now)
        s.execute(delete(QuotaRow).where(QuotaRow.hour < hour - timedelta(hours=1)))
        hour_key = hmac.new(self.key, hour.isoformat().encode(), hashlib.sha256).digest()
        k = hmac.new(hour_key, reporter_identity.encode(), hashlib.sha256).hexdigest()
        row = s.get(QuotaRow, k)
        limit = self.policy().reports_per_user_per_hour
        if row is not None and row.count >= limit:
            raise Refused("rate_limited", f"more than {limit} reports this hour")
        if row is None:
            s.add(QuotaRow(key=k, hour=hour, count=1))
        else:
            row.count += 1

    def _next_ref(self, s: Any, year: int) -> str:
        return f"ETH-{year}-{counters.bump(s, f'case-ref-{year}'):04d}"

    def escalate_consultation(
        self,
        *,
        reporter_identity: str,
        mode: str,
        session_id: str | None,
        submission: str | None = None,
        topic: str = "",
        narrative: str = "",
        excluded: list[str] | None = None,
        passphrase: str = "",
    ) -> Receipt:
        """Speak up, from a consultation's outcome or from nothing (`session_id` None).

        The one entry point both platforms' report forms call, so the rules cannot drift
        apart: the mode must be one of the three; an anonymous report needs a passphrase of at
        least eight characters; an outcome that offers no escalation cannot be escalated; the
        topic comes from the tree (triage cases count as general speaking up); `submission`
        (the platform's id of this one form submission) makes a double submit record once.
        Raises `Refused(key)` with a key of bot/messages.py.
        """
        if mode not in MODES:
            raise Refused("invalid_mode", f"unknown mode {mode!r}")
        if mode == "anonymous" and len(passphrase) < MIN_PASSPHRASE:
            raise Refused("passphrase_short")
        record = None
        if session_id:
            record = self.consultations.record(reporter_identity, session_id)
            if record.outcome.escalation == "none":
                raise Refused("no_escalation", "this outcome offers no escalation")
            tree = self.consultations.content.tree(record.tree_id, record.tree_version)
            topic = tree.topic if tree is not None and tree.topic != "triage" else ""
        return self.escalate(
            reporter_identity=reporter_identity,
            mode=mode,  # checked against MODES above
            record=record,
            topic=topic or "speaking_up",
            session_id=session_id,
            narrative=narrative,
            excluded=excluded,
            passphrase=passphrase,
            submission=submission,
        )

    def escalate(
        self,
        *,
        reporter_identity: str,
        mode: Mode,
        record: DecisionRecord | None,
        topic: str,
        session_id: str | None,
        narrative: str = "",
        excluded: list[str] | None = None,
        passphrase: str = "",
        submission: str | None = None,
    ) -> Receipt:
        """Record a case and queue its card, in one transaction.

        `reporter_identity` (`slack:…` / `teams:…`, the platform it came from) is used for
        named and confidential cases and for the hourly limit only; for anonymous cases it is
        never written anywhere, and only its platform reaches the audit log.
        """
        platform, _ = split_identity(reporter_identity)
        if mode == "anonymous" and len(passphrase) < MIN_PASSPHRASE:
            raise Refused("passphrase_short")
        policy = self.policy()
        now = self.clock()
        stamp = hour_floor(now) if mode == "anonymous" else now
        severity = Severity(record.outcome.severity) if record else Severity.medium
        escalation = record.outcome.escalation if record else "offered"
        ack_due = acknowledge_due(policy.clocks, severity, stamp)
        facts = _facts(record)
        receipt = new_receipt() if mode == "anonymous" else None
        case_id = str(uuid.uuid4())
        with self.db.tx() as s:
            # the claim carries the coarsened time: it must not date an anonymous report
            if submission is not None and not _first(s, f"report:{submission}", stamp):
                raise Refused("duplicate", "this report is already recorded")
            self._quota(s, reporter_identity, now)
            ref = self._next_ref(s, stamp.year)
            s.add(
                CaseRow(
                    id=case_id,
                    ref=ref,
                    mode=mode,
                    topic=topic,
                    severity=severity.value,
                    escalation=escalation,
                    tree_id=record.tree_id if record else None,
                    tree_version=record.tree_version if record else None,
                    facts=json.dumps(facts, ensure_ascii=False),
                    narrative=narrative or None,
                    status="new",
                    reporter=None if mode == "anonymous" else reporter_identity,
                    excluded=json.dumps(sorted(set(excluded or []))),
                    receipt_hash=receipt_digest(receipt) if receipt else None,
                    passphrase_hash=_hash_passphrase(passphrase) if receipt else None,
                    destination=policy.destination(topic),
                    created_at=stamp,
                    ack_due=ack_due,
                )
            )
            s.add(
                CaseEventRow(
                    case_id=case_id, at=stamp, kind="created", actor=None, body=f"{mode} report"
                )
            )
            audit.append(
                s,
                at=stamp,
                action="case.created",
                subject=f"case:{case_id}",
                payload={"mode": mode, "platform": platform},
            )
            self._to_desks(
                s, Kind.CASE_CARD, case_id, now, {"destination": policy.destination(topic)}
            )
            if session_id and mode == "anonymous":
                s.execute(delete(SessionRow).where(SessionRow.id == session_id))
            counters.bump(s, "cases-escalated")
        log.info("case %s recorded (%s, %s)", ref, mode, severity.value)
        self.signals.notify()
        return Receipt(case_id, ref, mode, receipt)

    # -- officers ---------------------------------------------------------------------------

    def _officer(
        self,
        s: Any,
        case: CaseRow | None,
        officer: str,
        action: str,
        role: str = COMPLIANCE,
    ) -> CaseRow:
        """The case, if `officer` may act on it; otherwise audit the refusal and refuse."""
        reason = ""
        if case is None:
            reason = "no such case"
        elif not self.roles().has(role, officer):
            reason = f"not a {role.replace('_', ' ')}"
        elif officer in json.loads(case.excluded or "[]"):
            raise _Refusal(
                action, case.id, officer, "excluded from this case by the reporter", "excluded"
            )
        if reason:
            raise _Refusal(
                action,
                case.id if case else "?",
                officer,
                reason,
                "gone" if case is None else "not_officer",
            )
        assert case is not None
        return case

    def act(
        self,
        case_id: str,
        officer: str,
        action: str,
        *,
        assignee: str = "",
        text: str = "",
        outcome: str = "",
    ) -> CaseView:
        """Acknowledge, assign, note, ask, close or reopen; returns the case as it is now.

        `officer` and `assignee` are qualified identities (`slack:U…`, `teams:…`): the role
        check reads the platform from them, so an officer on either desk works every case.
        """
        now = self.clock()
        try:
            with self.db.tx() as s:
                role = LEAD if action == "reopen" else COMPLIANCE
                case = self._officer(s, s.get(CaseRow, case_id), officer, action, role)
                body = self._apply(
                    s,
                    case,
                    officer,
                    action,
                    now,
                    assignee=assignee,
                    text=text,
                    outcome=outcome,
                )
                case.version += 1
                s.add(
                    CaseEventRow(
                        case_id=case.id,
                        at=self._stamp(case, now),
                        kind=action,
                        actor=officer,
                        body=body,
                    )
                )
                audit.append(
                    s,
                    at=self._stamp(case, now),
                    action=f"case.{action}",
                    subject=f"case:{case.id}",
                    payload={"actor": officer},
                )
                self._to_desks(s, Kind.CARD_UPDATE, case.id, now)
                if action == "ask":  # to the reporter's own platform (held if anonymous)
                    outbox.enqueue(
                        s,
                        platform=_platform_of(case.reporter) or self.desks()[0],
                        kind=Kind.RELAY_QUESTION,
                        case_id=case.id,
                        now=now,
                    )
                view = self._view(s, case, officer)
        except _Refusal as r:
            self._audit_refusal(r, now)
            raise Refused(r.key, r.reason) from None
        self.signals.notify()
        return view

    def _apply(
        self,
        s: Any,
        case: CaseRow,
        officer: str,
        action: str,
        now: datetime,
        *,
        assignee: str,
        text: str,
        outcome: str,
    ) -> str | None:
        closed = case.status == "closed"
        if action != "reopen" and closed:
            raise _Refusal(action, case.id, officer, "the case is closed", "case_closed")
        if action == "acknowledge":
            if case.status != "new":
                raise _Refusal(action, case.id, officer, "already acknowledged", "case_stale")
            case.status, case.acknowledged_at = "acknowledged", now
            case.feedback_due = feedback_due(self.policy().clocks, now)
            return None
        if action == "assign":
            target = assignee or officer
            if not self.roles().has(COMPLIANCE, target):
                raise _Refusal(
                    action, case.id, officer, "assignee is not an officer", "not_officer_target"
                )
            if target in json.loads(case.excluded or "[]"):
                raise _Refusal(action, case.id, officer, "assignee is excluded", "excluded")
            if case.status == "new":
                case.acknowledged_at = now
                case.feedback_due = feedback_due(self.policy().clocks, now)
            case.assignee, case.status = target, "investigating"
            return target
        if action in ("note", "ask"):
            if not text.strip():
                raise _Refusal(action, case.id, officer, "empty text", "empty")
            return text.strip()
        if action == "close":
            if outcome not in OUTCOMES or not text.strip():
                raise _Refusal(action, case.id, officer, "outcome and reason required", "empty")
            case.status, case.outcome, case.close_reason = "closed", outcome, text.strip()
            case.closed_at = now
            return f"{outcome}: {text.strip()}"
        if action == "reopen":
            if not closed:
                raise _Refusal(action, case.id, officer, "not closed", "case_stale")
            case.status, case.closed_at = "investigating", None
            return text.strip() or None
        if action == "view":
            return None
        raise _Refusal(action, case.id, officer, "unknown action", "invalid")

    def check(self, case_id: str, officer: str, action: str) -> None:
        """Refuse (and audit) now if `officer` may not take `action`; changes nothing."""
        now = self.clock()
        try:
            with self.db.tx() as s:
                case = self._officer(s, s.get(CaseRow, case_id), officer, action)
                if case.status == "closed":
                    raise _Refusal(action, case.id, officer, "the case is closed", "case_closed")
        except _Refusal as r:
            self._audit_refusal(r, now)
            raise Refused(r.key, r.reason) from None

    def view(self, case_id: str, officer: str) -> CaseView:
        """The private details for an officer; each view is audited."""
        return self.act(case_id, officer, "view")

    def card(self, case_id: str) -> CaseView:
        """What the channel card may show: no narrative, no path, no reporter."""
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id)
            if case is None:
                raise Refused("gone")
            return _public(case)

    def card_location(self, case_id: str, platform: str) -> dict[str, str] | None:
        """Where `platform`'s desk shows this case's card, once it is posted there."""
        return self.card(case_id).card.get(platform)

    def set_card(
        self,
        case_id: str,
        platform: str,
        location: dict[str, str],
        *,
        unless_posted: bool = False,
    ) -> bool:
        """Remember where one desk's card is; the other desks' locations stay as they are.
        Returns whether it was stored.

        The row is locked for the read-modify-write, so two desks posting at the same moment
        cannot overwrite each other's location. `unless_posted` stores only if this desk has
        no card id yet, decided under that same lock: a late answer from the platform must not
        replace an id another attempt (another instance) stored in the meantime, and two late
        answers must not both be stored (a check in one transaction and the store in another
        let both through).
        """
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id, with_for_update=True)
            if case is None:
                return False
            cards = json.loads(case.card) if case.card else {}
            if unless_posted and (cards.get(platform) or {}).get("activity"):
                return False
            cards[platform] = dict(location)
            case.card = json.dumps(cards)
            return True

    def queue(self, officer: str) -> list[QueueItem]:
        """An officer's working queue (theirs first), for an App Home or a desk card."""
        if not self.roles().has(COMPLIANCE, officer):
            return []
        from bot.cases import reports  # reports reads this module's OPEN

        return reports.queue(self.db, officer, self.clock())

    def figures(self) -> Figures:
        """The desk's aggregate figures (no case detail)."""
        from bot.cases import reports

        return reports.figures(self.db)

    def _stamp(self, case: CaseRow, now: datetime) -> datetime:
        return hour_floor(now) if case.mode == "anonymous" else now

    def _view(self, s: Any, case: CaseRow, officer: str) -> CaseView:
        base = _public(case)
        may_see = case.mode == "named" or (
            case.mode == "confidential" and (case.assignee == officer or case.consent)
        )
        events = tuple(
            (e.at, e.kind, e.actor, e.body)
            for e in s.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case.id)
                .order_by(CaseEventRow.id)
            )
        )
        return CaseView(
            **{
                **base.__dict__,
                "reporter": case.reporter if may_see else None,
                "facts": json.loads(case.facts),
                "narrative": case.narrative,
                "timeline": events,
            }
        )

    def _audit_refusal(self, r: _Refusal, now: datetime) -> None:
        with self.db.tx() as s:
            audit.append(
                s,
                at=now,
                action=f"case.{r.action}",
                subject=f"case:{r.case_id}",
                result="refused",
                payload={"actor": r.actor, "reason": r.reason},
            )
        log.warning("refused case.%s: %s", r.action, r.reason)

    # -- reporters --------------------------------------------------------------------------

    def _token(self, case_id: str, now: datetime) -> str:
        exp = int((now + timedelta(minutes=30)).timestamp())
        mac = hmac.new(self.key, f"{case_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{case_id}.{exp}.{mac}"

    def _from_token(self, token: str) -> str:
        try:
            case_id, exp, mac = token.split(".")
        except ValueError:
            raise Refused("bad_receipt") from None
        good = hmac.new(self.key, f"{case_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(good, mac) or int(exp) < self.clock().timestamp():
            raise Refused("bad_receipt")
        return case_id

    def reporter_login(self, receipt: str, passphrase: str) -> ReporterView:
        """An anonymous reporter's view, by receipt code and passphrase (5 tries, then locked)."""
        with self.db.tx() as s:
            case = s.scalars(
                select(CaseRow).where(CaseRow.receipt_hash == receipt_digest(receipt))
            ).first()
            if case is None:
                raise Refused("bad_receipt")
            if case.failed_logins >= 5:
                raise Refused("locked")
            if not _check_passphrase(passphrase, case.passphrase_hash or ""):
                case.failed_logins += 1
                failed = True
            else:
                case.failed_logins = 0
                failed = False
        if failed:
            raise Refused("bad_receipt")
        return self._reporter_view(case.id)

    def named_cases(self, reporter_identity: str) -> list[ReporterView]:
        with self.db.tx() as s:
            ids = list(
                s.scalars(
                    select(CaseRow.id)
                    .where(CaseRow.reporter == reporter_identity)
                    .order_by(CaseRow.created_at.desc())
                )
            )
        return [self._reporter_view(i) for i in ids]

    def _reporter_view(self, case_id: str) -> ReporterView:
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id)
            assert case is not None
            events = list(
                s.scalars(
                    select(CaseEventRow)
                    .where(
                        CaseEventRow.case_id == case_id, CaseEventRow.kind.in_(("ask", "answer"))
                    )
                    .order_by(CaseEventRow.id)
                )
            )
        questions: list[tuple[datetime, str, str | None]] = []
        for e in events:
            if e.kind == "ask":
                questions.append((e.at, e.body or "", None))
            elif questions:
                at, q, _ = questions[-1]
                questions[-1] = (at, q, e.body)
        status = (
            "closed"
            if case.status == "closed"
            else ("received" if case.status == "new" else "in progress")
        )
        return ReporterView(case.ref, status, tuple(questions), self._token(case_id, self.clock()))

    def reporter_answer(self, token: str, text: str, reporter_identity: str = "") -> ReporterView:
        """The reporter answers compliance's question. Named reporters are checked by identity;
        anonymous ones by the short-lived token from their login."""
        case_id = self._from_token(token)
        if not text.strip():
            raise Refused("empty")
        now = self.clock()
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id)
            if case is None or case.status == "closed":
                raise Refused("case_closed")
            if case.mode != "anonymous" and case.reporter != reporter_identity:
                raise Refused("not_yours")
            stamp = self._stamp(case, now)
            s.add(
                CaseEventRow(
                    case_id=case_id, at=stamp, kind="answer", actor=None, body=text.strip()[:3000]
                )
            )
            audit.append(s, at=stamp, action="case.answer", subject=f"case:{case_id}")
            self._to_desks(s, Kind.NOTIFY_ASSIGNEE, case_id, now)
        self.signals.notify()
        return self._reporter_view(case_id)

    def consent(self, case_id: str, reporter_identity: str) -> None:
        """A confidential reporter allows their identity to be shown to the case team.

        Given once, it stays given: a second click (a double click, the button pressed again
        later, two instances each taking one) changes nothing and adds nothing to the
        timeline or the audit log, where the case team would read it as a new event. The
        conditional update decides which click is the first, also between two instances
        (PostgreSQL re-checks the condition after the other's commit; SQLite writes one at a
        time)."""
        now = self.clock()
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id)
            if case is None or case.reporter != reporter_identity:
                raise Refused("not_yours")
            first = s.execute(
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.consent.is_not(True))
                .values(consent=True)
            )
            if not rowcount(first):
                return
            s.add(CaseEventRow(case_id=case_id, at=now, kind="consent", actor=None, body=None))
            audit.append(s, at=now, action="case.consent", subject=f"case:{case_id}")

    def reporter_of(self, case_id: str) -> str | None:
        """The named/confidential reporter's identity, for relaying questions to them."""
        with self.db.tx() as s:
            case = s.get(CaseRow, case_id)
            return case.reporter if case else None

    def last_question(self, case_id: str) -> str:
        with self.db.tx() as s:
            e = s.scalars(
                select(CaseEventRow)
                .where(CaseEventRow.case_id == case_id, CaseEventRow.kind == "ask")
                .order_by(CaseEventRow.id.desc())
            ).first()
            return e.body or "" if e else ""

    def reporter_case(self, case_id: str, reporter_identity: str) -> ReporterView:
        """A named or confidential reporter's view of their own case (to answer a question)."""
        if self.reporter_of(case_id) != reporter_identity:
            raise Refused("not_yours")
        return self._reporter_view(case_id)

    # -- reminders --------------------------------------------------------------------------

    def remind(self) -> int:
        """Queue a reminder for every case with a newly passed point, once across instances."""
        queued = 0
        for chunk, sent in self._open_cases():
            queued += self._remind_chunk(chunk, sent)
        if queued:
            self.signals.notify()
        return queued

    def _open_cases(self) -> Iterator[tuple[list[Any], set[tuple[str, str]]]]:
        """The open cases' clock columns, REMIND_CHUNK at a time by id, each chunk with the
        reminder points already sent for it.

        Why in chunks, in read transactions, and only these columns: the timers run this
        every 30 s on every instance. Loading every open case as a whole row, with one IN
        list of all their ids, in a write transaction, made the scan's memory and the write
        lock's hold grow with the number of open cases (the soak, which closes none, showed
        RSS rising with them; past SQLite's 32,766 variables the IN list would have failed
        outright). Now memory is bounded by the chunk and writers never wait for the scan."""
        after = ""
        while True:
            with self.db.read() as s:
                chunk = list(
                    s.execute(
                        select(
                            CaseRow.id,
                            CaseRow.status,
                            CaseRow.created_at,
                            CaseRow.ack_due,
                            CaseRow.acknowledged_at,
                            CaseRow.feedback_due,
                        )
                        .where(CaseRow.status.in_(OPEN), CaseRow.id > after)
                        .order_by(CaseRow.id)
                        .limit(REMIND_CHUNK)
                    )
                )
                if not chunk:
                    return
                sent = {
                    (case_id, point)
                    for case_id, point in s.execute(
                        select(ReminderRow.case_id, ReminderRow.point).where(
                            ReminderRow.case_id.in_([c.id for c in chunk])
                        )
                    )
                }
            yield chunk, sent
            if len(chunk) < REMIND_CHUNK:
                return
            after = chunk[-1].id

    def _remind_chunk(self, cases: list[Any], sent: set[tuple[str, str]]) -> int:
        now = self.clock()
        clocks = self.policy().clocks
        queued = 0
        for c in cases:
            if c.status == "new":
                points = [("ack", p) for p in due_points(clocks, c.created_at, c.ack_due, now)]
            elif c.feedback_due is not None and c.acknowledged_at is not None:
                points = [
                    ("feedback", p)
                    for p in due_points(clocks, c.acknowledged_at, c.feedback_due, now)
                ]
            else:
                points = []
            fresh = [(n, p) for n, p in points if (c.id, f"{n}:{p}") not in sent]
            if not fresh:
                continue
            # after downtime several points may have passed: mark them all, send the latest
            try:
                with self.db.tx() as s:
                    for clock_name, point in fresh:
                        s.add(ReminderRow(case_id=c.id, point=f"{clock_name}:{point}", at=now))
                    s.flush()
                    clock_name, point = fresh[-1]
                    self._to_desks(
                        s, Kind.REMINDER, c.id, now, {"clock": clock_name, "point": point}
                    )
                queued += 1
            except IntegrityError:
                continue  # another instance queued this one
        return queued


class _Refusal(Exception):
    def __init__(
        self, action: str, case_id: str, actor: str, reason: str, key: str = "not_officer"
    ) -> None:
        super().__init__(reason)
        self.action, self.case_id, self.actor, self.reason, self.key = (
            action,
            case_id,
            actor,
            reason,
            key,
        )


def _facts(record: DecisionRecord | None) -> dict[str, Any]:
    """What the tree gathered, by step — for officers' eyes only."""
    if record is None:
        return {}
    return {
        "tree": record.title,
        "steps": [
            {"step": st.title, "entries": [[e.question, e.answer] for e in st.entries]}
            for st in record.steps
        ],
        "outcome": record.outcome.headline,
        "flags": list(record.flags),
    }


def _public(case: CaseRow) -> CaseView:
    return CaseView(
        id=case.id,
        ref=case.ref,
        mode=case.mode,
        topic=case.topic,
        severity=case.severity,
        status=case.status,
        assignee=case.assignee,
        created_at=case.created_at,
        ack_due=case.ack_due,
        feedback_due=case.feedback_due,
        outcome=case.outcome,
        card=json.loads(case.card) if case.card else {},
        version=case.version,
    )


def _first(s: Any, key: str, now: datetime) -> bool:
    """Claim `key` inside the caller's transaction: a rollback releases it again, so a
    report that fails to record can be submitted once more."""
    added = s.execute(
        insert(s)(SeenEventRow)
        .values(key=key, at=now)
        .on_conflict_do_nothing()
        .returning(SeenEventRow.key)
    ).first()
    return added is not None


def _platform_of(identity: str | None) -> str | None:
    """'slack' for 'slack:U1'; None for no identity (an anonymous reporter)."""
    return identity.split(":", 1)[0] if identity and ":" in identity else None
