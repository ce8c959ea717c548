"""The one API every adapter calls: consultations now, cases and exercises beside them.

Adapters pass an opaque `owner` ("slack:T…:U…", "console:local") and get back engine turns;
they never touch the database or the engine directly. Every transition is one short
transaction guarded by the session's state version, so two instances handling two clicks
of the same button apply exactly one.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy import insert as core_insert
from sqlalchemy.orm import Session

from bot.content import ContentSource
from bot.core.engine import Engine, EngineError, InvalidAction, OutcomeReached, StaleAction, Turn
from bot.core.model import Dilemma
from bot.core.replies import DecisionRecord
from bot.core.session import SessionState
from bot.identity import Pseudonymizer, derive_key, make_pseudonymizer
from bot.search import Findings, find_guides
from bot.storage import audit, counters
from bot.storage.db import Database, insert_for, rowcount, session_on
from bot.storage.tables import SeenEventRow, SessionRow, UserPrefRow

log = logging.getLogger(__name__)

# built once, on the tables (not the ORM classes), and run on a bare Connection
# (`Database.core()`): an ORM-enabled statement through a Session paid for the ORM's compile
# and bulk-persistence plugins on every click, more than the SQL itself. SQLAlchemy finds
# their compiled form in its cache without rebuilding a statement per click or command.
_SESSIONS = cast(Table, SessionRow.__table__)
_PREFS = cast(Table, UserPrefRow.__table__)
_NEW = core_insert(_SESSIONS)
_LOAD = select(_SESSIONS.c.owner, _SESSIONS.c.state).where(_SESSIONS.c.id == bindparam("id"))
_LANG = select(_PREFS.c.lang).where(_PREFS.c.owner == bindparam("owner"))
_SAVE = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("b_id"), _SESSIONS.c.state_version == bindparam("expected"))
    .values(
        node=bindparam("b_node"),
        state_version=bindparam("b_state_version"),
        status=bindparam("b_status"),
        state=bindparam("b_state"),
        updated_at=bindparam("b_updated_at"),
    )
)

_SEEN = cast(Table, SeenEventRow.__table__)


@functools.cache
def _claim_stmt(dialect: str) -> Any:
    """The delivery key's INSERT … ON CONFLICT DO NOTHING RETURNING, built once per dialect
    (RETURNING, not rowcount: PostgreSQL reports -1 for an ORM-session INSERT)."""
    return (
        insert_for(dialect)(_SEEN)
        .values(key=bindparam("k_key"), at=bindparam("k_at"))
        .on_conflict_do_nothing()
        .returning(_SEEN.c.key)
    )


@functools.cache
def _pref_upsert(dialect: str, chosen: bool) -> Any:
    """The language upsert, built once per dialect: a statement built per call cost more than
    the INSERT itself in the profile of a first `/ethics`. A choice overwrites; a looked-up
    locale never overwrites anything."""
    base = insert_for(dialect)(_PREFS).values(
        owner=bindparam("p_owner"),
        lang=bindparam("p_lang"),
        chosen=bindparam("p_chosen"),
        updated_at=bindparam("p_at"),
    )
    if not chosen:
        return base.on_conflict_do_nothing()
    return base.on_conflict_do_update(
        index_elements=["owner"],
        set_={"lang": base.excluded.lang, "chosen": True, "updated_at": base.excluded.updated_at},
    )


Clock = Callable[[], datetime]
# an adapter's own writes that belong in the transaction of the event they came with (where
# to post to that conversation later, say): run inside it, committed or rolled back with it
AlsoWrite = Callable[[Connection], None]
# called in the transaction that records an outcome: (tx, platform identity, session, event)
OutcomeHook = Callable[[Session, str, SessionState, OutcomeReached], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Refused(Exception):
    """A user action the service will not apply; `key` names the message in bot.messages."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key = key


@dataclass(frozen=True)
class Action:
    kind: Literal["choose", "answer", "proceed", "back"]
    node: str
    version: int
    option: int = -1
    text: str = ""


@dataclass(frozen=True)
class Arrival:
    """`ConsultationService.arrive`'s answer: the first delivery of its event or not, and
    the person's language when one was asked for (None: none stored, no locale given)."""

    first: bool
    lang: str | None = None


@dataclass(frozen=True)
class TreeInfo:
    id: str
    topic: str
    title: str
    summary: str


@dataclass(frozen=True)
class SessionInfo:
    id: str
    tree_id: str
    title: str
    step: int
    status: str
    updated_at: datetime
    headline: str = ""


TOPIC_ALIASES = {
    "confidentiality": "confidentiality",
    "privacy": "confidentiality",
    "保密": "confidentiality",
    "信息保密": "confidentiality",
    "fair": "fair_treatment",
    "fair_treatment": "fair_treatment",
    "公平": "fair_treatment",
    "公平对待": "fair_treatment",
    "honesty": "honesty",
    "mis-selling": "honesty",
    "诚信": "honesty",
    "诚实守信": "honesty",
    "conflict": "conflict_of_interest",
    "gift": "conflict_of_interest",
    "conflict_of_interest": "conflict_of_interest",
    "利益冲突": "conflict_of_interest",
    "礼品": "conflict_of_interest",
    "triage": "triage",
    "unsure": "triage",
    "不确定": "triage",
}

TOPIC_ORDER = [
    "confidentiality",
    "fair_treatment",
    "honesty",
    "conflict_of_interest",
    "speaking_up",
    "triage",
]


class ConsultationService:
    def __init__(
        self,
        *,
        db: Database,
        content: ContentSource,
        clock: Clock = utcnow,
        pseudonym: Pseudonymizer | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.db = db
        self.content = content
        self.clock = clock
        self.who = pseudonym or make_pseudonymizer(derive_key(""))
        self.new_id = new_id
        self.on_outcome: OutcomeHook | None = None  # the reflection follow-up (bootstrap)

    # -- content ------------------------------------------------------------------------------

    def engine(self) -> Engine:
        c = self.content.content
        return Engine(c.escalation, c.clauses.clauses if c.clauses else {})

    def catalogue(self, lang: str) -> list[TreeInfo]:
        """Trees for the topic picker, grouped by topic in a stable order, triage last."""
        self.content.maybe_reload()
        trees = sorted(
            self.content.trees.values(), key=lambda t: (TOPIC_ORDER.index(t.topic), t.id)
        )
        return [TreeInfo(t.id, t.topic, t.title.get(lang), t.summary.get(lang)) for t in trees]

    def find_tree(self, query: str) -> str | None:
        """A tree id from what the user typed: an id, a topic name or alias, or a keyword."""
        q = query.strip().lower()
        trees = self.content.trees
        if q in trees:
            return q
        topic = TOPIC_ALIASES.get(q, q)
        for t in sorted(trees.values(), key=lambda t: t.id):
            if t.topic == topic:
                return t.id
        for t in sorted(trees.values(), key=lambda t: t.id):
            if any(q == k.lower() for k in t.keywords) or t.id.startswith(q):
                return t.id
        return None

    def find(self, text: str, lang: str | None = None) -> Findings:
        """The guides that fit a description in the user's own words, for every platform's
        free-text box; the text is neither stored nor logged."""
        self.content.maybe_reload()
        return find_guides(self.content.content.search_index(), text, lang)

    def tree_title(self, tree_id: str, lang: str) -> str | None:
        """The current title of a tree (a hand-off button names where it leads)."""
        tree = self.content.tree(tree_id)
        return tree.title.get(lang) if tree else None

    def clause_titles(self, lang: str) -> dict[str, str]:
        """Clause id -> title, for texts that cite the code of conduct (exercise reveals)."""
        clauses = self.content.content.clauses
        return {k: v.title.get(lang) for k, v in clauses.clauses.items()} if clauses else {}

    def _tree_for(self, state: SessionState) -> Dilemma:
        tree = self.content.tree(state.tree_id, state.tree_version)
        if tree is None:
            raise Refused("gone", f"tree {state.tree_id} v{state.tree_version} is unknown")
        return tree

    # -- consultations ------------------------------------------------------------------------

    def start(
        self,
        owner: str,
        tree_id: str,
        lang: str,
        context: dict[str, str] | None = None,
        *,
        remember_lang: bool = False,
    ) -> Turn:
        """Start a consultation in `lang`: one transaction writes its row. With
        `remember_lang`, `lang` was looked up from the platform (a first contact) and is
        stored in the same transaction, not as the person's choice (a choice already made
        wins), so the first `/ethics` costs one write, not two."""
        tree, turn = self._begin(owner, tree_id, lang)
        with self.db.core() as conn:
            if remember_lang:
                self._store_lang(conn, self.who(owner), lang, chosen=False)
            self._insert(conn, owner, tree, turn, context)
        return turn

    def start_known(
        self, owner: str, tree_id: str, context: dict[str, str] | None = None
    ) -> Turn | None:
        """Start a consultation in the owner's stored language, read in the same transaction
        that writes the session (one BEGIN/COMMIT for a returning person); None, with
        nothing written, when no language is stored yet (the adapter looks up the locale and
        calls `start(..., remember_lang=True)`)."""
        self.content.maybe_reload()
        if self.content.tree(tree_id) is None:
            raise Refused("unknown_topic", tree_id)
        with self.db.core() as conn:
            pref = conn.execute(_LANG, {"owner": self.who(owner)}).first()
            if pref is None:
                return None
            tree, turn = self._begin(owner, tree_id, str(pref.lang))
            self._insert(conn, owner, tree, turn, context)
        return turn

    def _begin(self, owner: str, tree_id: str, lang: str) -> tuple[Dilemma, Turn]:
        self.content.maybe_reload()
        tree = self.content.tree(tree_id)
        if tree is None:
            raise Refused("unknown_topic", tree_id)
        return tree, self.engine().start(tree, self.new_id(), lang)

    def _insert(
        self,
        conn: Connection,
        owner: str,
        tree: Dilemma,
        turn: Turn,
        context: dict[str, str] | None,
    ) -> None:
        """The new session's row, as one Core INSERT of a statement built once (an ORM
        object through the unit of work showed in the profile of every `/ethics`). The
        tree version is the one the session started on, so it finishes on it."""
        now = self.clock()
        conn.execute(
            _NEW,
            {
                "id": turn.state.id,
                "owner": self.who(owner),
                "tree_id": tree.id,
                "tree_version": tree.version,
                "node": turn.state.node,
                "state_version": turn.state.version,
                "status": "active",
                "state": turn.state.to_json(),
                "context": json.dumps(context) if context else None,
                "created_at": now,
                "updated_at": now,
            },
        )

    def _load(
        self, owner: str, session_id: str, *, action: str, audit: bool = True
    ) -> SessionState:
        owner = self.who(owner)
        with self.db.core(readonly=True) as conn:
            row = conn.execute(_LOAD, {"id": session_id}).first()
        if row is None:
            raise Refused("gone")
        if row.owner == owner:
            return SessionState.from_json(row.state)
        if audit:
            self.refuse(owner, f"session.{action}", f"session:{session_id}", "not the owner")
        raise Refused("not_yours")

    def refuse(self, owner: str, action: str, subject: str, reason: str) -> None:
        """Record a refused action in the audit log, in its own committed transaction."""
        owner = self.who(owner)
        with self.db.tx() as s:
            audit.append(
                s,
                at=self.clock(),
                action=action,
                subject=subject,
                result="refused",
                payload={"actor": owner, "reason": reason},
            )
        log.warning("refused %s: %s", action, reason)

    def view(self, owner: str, session_id: str, *, audit: bool = True) -> Turn:
        """The session's current step. `audit` False: a refusal is not recorded again (the
        answer to a redelivered event, whose first delivery recorded it already)."""
        state = self._load(owner, session_id, action="view", audit=audit)
        return self.engine().view(self._tree_for(state), state)

    def act(
        self,
        owner: str,
        session_id: str,
        action: Action,
        *,
        delivery: str | None = None,
        also: AlsoWrite | None = None,
    ) -> Turn:
        """Apply one click or answer. Raises
        Refused('stale'|'not_yours'|'invalid'|'gone'|'redelivered').

        One transaction reads the session, runs the engine step (microseconds), writes the
        new state guarded by its version and, at an outcome, records its side effects (the
        finished counter, the reflection follow-up): a click is one BEGIN/COMMIT, and an
        outcome is never stored without its follow-up. A refusal writes nothing of the
        click; it is audited after that transaction, in its own.

        `delivery`: the platform event's delivery key, claimed first in the same transaction,
        so a redelivered event (the same key) is refused as 'redelivered' with nothing written,
        and a step is applied once however often it is delivered. `also`: the adapter's own
        writes for this event, in the same transaction (`AlsoWrite`)."""
        who = self.who(owner)
        failed: Refused | None = None  # nothing of the click written: said after the commit
        refusal: tuple[str, str] | None = None  # (message key, audit reason)
        with self.db.core() as conn:
            if delivery is not None and not self._claim(conn, delivery):
                raise Refused("redelivered", "delivery key seen before")
            if also is not None:
                also(conn)
            try:
                turn, refusal = self._apply(conn, who, session_id, action)
            except Refused as exc:
                if delivery is None and also is None:
                    raise  # nothing to keep: roll back as ever
                # the claim and the adapter's writes stay: this delivery was handled (a
                # redelivered copy of a stale click is refused as 'redelivered')
                failed = exc
            else:
                if turn is not None and refusal is None and turn.state.status == "finished":
                    # an ORM Session for the outcome's side effects, in this transaction
                    with session_on(conn) as s:
                        counters.bump(s, "consultations-finished")
                        for event in turn.events:
                            if self.on_outcome is not None:
                                # the platform identity, not the pseudonym: the hook
                                # needs the platform and the address to come back to
                                self.on_outcome(s, owner, turn.state, event)
                        s.flush()
        if failed is not None:
            raise failed
        if refusal is not None:
            key, reason = refusal
            self.refuse(owner, f"session.{action.kind}", f"session:{session_id}", reason)
            raise Refused(key, reason)
        assert turn is not None  # no refusal: a turn
        return turn

    def _apply(
        self, conn: Connection, who: str, session_id: str, action: Action
    ) -> tuple[Turn | None, tuple[str, str] | None]:
        """`act`'s read, step and guarded write in `conn`'s transaction: the new turn, or the
        refusal to audit (message key, reason) with nothing written. Raises Refused
        ('gone'|'stale') before any write, or after an UPDATE that matched no row."""
        row = conn.execute(_LOAD, {"id": session_id}).first()
        if row is None:
            raise Refused("gone")
        if row.owner != who:  # someone else's: not even parsed
            return None, ("not_yours", "not the owner")
        state = SessionState.from_json(row.state)
        turn, invalid = self._step(conn, state, action)
        if invalid is not None:
            return turn, ("invalid", invalid)
        done = conn.execute(
            _SAVE,
            {
                "b_id": session_id,
                "expected": state.version,
                "b_node": turn.state.node,
                "b_state_version": turn.state.version,
                "b_status": turn.state.status,
                "b_state": turn.state.to_json(),
                "b_updated_at": self.clock(),
            },
        )
        if rowcount(done) != 1:  # another instance applied a click first
            raise Refused("stale", "concurrent update")
        return turn, None

    def _step(
        self, conn: Connection, state: SessionState, action: Action
    ) -> tuple[Turn, str | None]:
        """The engine's answer to one action, on the tree version the session started on
        (read inside `conn`'s transaction if it is not cached); an invalid action comes back
        as its reason, to be audited once the transaction is closed."""
        tree = self.content.trees.get(state.tree_id)
        if tree is None or tree.version != state.tree_version:  # an older, pinned version
            with session_on(conn) as s:
                tree = self.content.tree(state.tree_id, state.tree_version, s=s)
        if tree is None:
            raise Refused("gone", f"tree {state.tree_id} v{state.tree_version} is unknown")
        eng = self.engine()
        try:
            if action.kind == "choose":
                turn = eng.choose(
                    tree, state, node=action.node, version=action.version, option=action.option
                )
            elif action.kind == "answer":
                turn = eng.answer(
                    tree, state, node=action.node, version=action.version, text=action.text
                )
            elif action.kind == "proceed":
                turn = eng.proceed(tree, state, node=action.node, version=action.version)
            else:
                turn = eng.back(tree, state, version=action.version)
        except StaleAction as exc:
            raise Refused("stale", str(exc)) from None
        except InvalidAction as exc:
            return eng.view(tree, state), str(exc)
        except EngineError as exc:
            raise Refused("gone", str(exc)) from None
        return turn, None

    def record(self, owner: str, session_id: str) -> DecisionRecord:
        state = self._load(owner, session_id, action="record")
        return self.engine().record(self._tree_for(state), state)

    def context(self, owner: str, session_id: str) -> dict[str, str]:
        owner = self.who(owner)
        with self.db.read() as s:
            row = s.get(SessionRow, session_id)
            if row is None or row.owner != owner or not row.context:
                return {}
            return dict(json.loads(row.context))

    def sessions(self, owner: str, status: str, limit: int = 10) -> list[SessionInfo]:
        """The owner's consultations, newest first (App Home, console resume)."""
        owner = self.who(owner)
        with self.db.read() as s:
            rows = list(
                s.scalars(
                    select(SessionRow)
                    .where(SessionRow.owner == owner, SessionRow.status == status)
                    .order_by(SessionRow.updated_at.desc())
                    .limit(limit)
                )
            )
        out = []
        for r in rows:
            state = SessionState.from_json(r.state)
            tree = self.content.tree(r.tree_id, r.tree_version)
            if tree is None:
                continue
            node = tree.nodes[state.node]
            headline = node.outcome.headline.get(state.lang) if node.outcome else ""
            out.append(
                SessionInfo(
                    r.id,
                    r.tree_id,
                    tree.title.get(state.lang),
                    node.step.number,
                    r.status,
                    r.updated_at,
                    headline,
                )
            )
        return out

    # -- preferences and delivery keys --------------------------------------------------------

    def lang_of(self, owner: str) -> str | None:
        with self.db.core(readonly=True) as conn:
            row = conn.execute(_LANG, {"owner": self.who(owner)}).first()
            return str(row.lang) if row and row.lang else None

    def set_lang(self, owner: str, lang: str, *, chosen: bool = True) -> None:
        """Store a language: a user's choice always wins over a looked-up locale."""
        with self.db.core() as conn:
            self._store_lang(conn, self.who(owner), lang, chosen=chosen)

    def _store_lang(self, conn: Connection, pseudonym: str, lang: str, *, chosen: bool) -> None:
        conn.execute(
            _pref_upsert(conn.dialect.name, chosen),
            {"p_owner": pseudonym, "p_lang": lang, "p_chosen": chosen, "p_at": self.clock()},
        )

    def first_delivery(self, key: str) -> bool:
        """True the first time `key` is seen (Slack event retries carry the same event id),
        also when two instances receive it at the same moment."""
        with self.db.core() as conn:
            return self._claim(conn, key)

    def _claim(self, conn: Connection, key: str) -> bool:
        """`first_delivery` inside `conn`'s transaction: rolled back with it, so an event
        whose handling failed is handled again when it is redelivered."""
        added = conn.execute(
            _claim_stmt(conn.dialect.name), {"k_key": key, "k_at": self.clock()}
        ).first()
        return added is not None

    def arrive(
        self,
        delivery: str | None,
        *,
        owner: str | None = None,
        locale: str = "",
        also: AlsoWrite | None = None,
    ) -> Arrival:
        """What an inbound platform event needs before it is handled, in one transaction:
        the delivery key claimed (a redelivery: `first` False, nothing else done or
        written), the adapter's own writes (`also`) and, with `owner`, the person's
        language, the platform's `locale` stored for someone new (not as a choice; a
        choice made later wins), as `lang_of` then `set_lang(chosen=False)` would."""
        with self.db.core() as conn:
            if delivery is not None and not self._claim(conn, delivery):
                return Arrival(first=False)
            if also is not None:
                also(conn)
            if owner is None:
                return Arrival(first=True)
            who = self.who(owner)
            row = conn.execute(_LANG, {"owner": who}).first()
            if row is not None and row.lang:
                return Arrival(first=True, lang=str(row.lang))
            if not locale:
                return Arrival(first=True)
            self._store_lang(conn, who, locale, chosen=False)
            return Arrival(first=True, lang=locale)
