"""Weekly exercises: scheduling (trainers only), the scheduler tick, answers and results.

The tick runs in every web process (or from cron via `ethicsbot exercise tick`). Posting
exactly once rests on the database, not on timing: a post slot is a unique row, moving it
from `scheduled` to `queued` is a conditional update that only one process wins, and the
actual message goes through the outbox, whose delivery reconciles after a crash.
Answers are stored under a pseudonym; nobody's individual answer is ever shown.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.cases.roles import PLATFORMS, TRAINER, Roles
from bot.core.model import Exercise, ExerciseOption
from bot.delivery import outbox
from bot.delivery.outbox import Kind
from bot.delivery.signals import Signals
from bot.exercises import schedule as S
from bot.identity import Pseudonymizer
from bot.service import Clock, Refused
from bot.storage import audit
from bot.storage.db import Database, insert, rowcount
from bot.storage.tables import AnswerRow, ExercisePostRow, ScheduleRow

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=10)
MIN_GROUP = 5  # below this many answers no breakdown is shown


@dataclass(frozen=True)
class ScheduleInfo:
    id: str
    channel: str
    kind: str
    exercise_id: str | None
    post_spec: str
    reveal_spec: str
    tz: str
    status: str
    platform: str  # where `channel` is: "slack" or "teams"


@dataclass(frozen=True)
class PostView:
    id: str
    exercise: Exercise
    channel: str
    status: str
    late: bool
    slot: datetime
    reveal_at: datetime
    message: dict[str, str]
    counts: dict[str, int]
    total: int


class ExerciseService:
    def __init__(
        self,
        *,
        db: Database,
        exercises: Callable[[], dict[str, Exercise]],
        roles: Callable[[], Roles],
        clock: Clock,
        pseudonym: Pseudonymizer,
        signals: Signals,
    ) -> None:
        self.db = db
        self.exercises = exercises
        self.roles = roles
        self.clock = clock
        self.who = pseudonym
        self.signals = signals  # wakes this process's workers after a commit

    # -- trainers ---------------------------------------------------------------------------

    def require_trainer(self, actor: str, action: str, subject: str) -> None:
        """`cli:*` actors run on the server itself and are trusted; chat users (`slack:…`,
        `teams:…`) need the role on the platform they act from."""
        if actor.startswith("cli:") or self.roles().has(TRAINER, actor):
            return
        with self.db.tx() as s:
            audit.append(
                s,
                at=self.clock(),
                action=f"exercise.{action}",
                subject=subject,
                result="refused",
                payload={"actor": actor, "reason": "not a trainer"},
            )
        log.warning("refused exercise.%s: not a trainer", action)
        raise Refused("not_trainer")

    def schedule(
        self,
        actor: str,
        *,
        platform: str,
        channel: str,
        kind: str,
        post: str,
        reveal: str,
        tz: str = "Asia/Shanghai",
        exercise_id: str | None = None,
    ) -> ScheduleInfo:
        """Plan one exercise (kind 'once') or a weekly rotation for a channel of `platform`
        (where the posts go; the trainer may act from the other platform)."""
        self.require_trainer(actor, "schedule", f"channel:{channel}")
        if platform not in PLATFORMS:
            raise Refused("bad_schedule", f"unknown platform {platform!r}")
        try:
            S.check(kind, post, reveal, tz)
        except S.ScheduleError as exc:
            raise Refused("bad_schedule", str(exc)) from None
        if kind == "once" and exercise_id not in self.exercises():
            raise Refused("bad_schedule", f"unknown exercise '{exercise_id}'")
        if not channel:
            raise Refused("bad_schedule", "no channel given")
        now = self.clock()
        sid = str(uuid.uuid4())
        with self.db.tx() as s:
            s.add(
                ScheduleRow(
                    id=sid,
                    platform=platform,
                    channel=channel,
                    kind=kind,
                    exercise_id=exercise_id if kind == "once" else None,
                    tz=tz,
                    post_spec=post,
                    reveal_spec=reveal,
                    status="active",
                    created_by=actor,
                    created_at=now,
                )
            )
            audit.append(
                s,
                at=now,
                action="exercise.schedule",
                subject=f"schedule:{sid}",
                payload={"actor": actor, "channel": channel, "kind": kind},
            )
        self.signals.notify()
        return self._info(sid)

    def cancel(self, actor: str, schedule_id: str) -> ScheduleInfo:
        self.require_trainer(actor, "cancel", f"schedule:{schedule_id}")
        now = self.clock()
        with self.db.tx() as s:
            row = s.get(ScheduleRow, schedule_id)
            if row is None:
                raise Refused("gone")
            row.status = "cancelled"
            s.execute(
                update(ExercisePostRow)
                .where(
                    ExercisePostRow.schedule_id == schedule_id,
                    ExercisePostRow.status == "scheduled",
                )
                .values(status="cancelled")
            )
            audit.append(
                s,
                at=now,
                action="exercise.cancel",
                subject=f"schedule:{schedule_id}",
                payload={"actor": actor},
            )
        return self._info(schedule_id)

    def schedules(self) -> list[ScheduleInfo]:
        with self.db.tx() as s:
            ids = list(s.scalars(select(ScheduleRow.id).order_by(ScheduleRow.created_at)))
        return [self._info(i) for i in ids]

    def _info(self, sid: str) -> ScheduleInfo:
        with self.db.tx() as s:
            r = s.get(ScheduleRow, sid)
            assert r is not None
            return ScheduleInfo(
                r.id,
                r.channel,
                r.kind,
                r.exercise_id,
                r.post_spec,
                r.reveal_spec,
                r.tz,
                r.status,
                r.platform,
            )

    # -- the scheduler ----------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Create due slots, queue due posts and reveals. Safe to run anywhere, any time."""
        now = self.clock()
        created = self._materialize(now)
        posted = self._advance(now, "scheduled", "queued", Kind.EXERCISE_POST, ExercisePostRow.slot)
        revealed = self._advance(
            now, "posted", "revealing", Kind.EXERCISE_REVEAL, ExercisePostRow.reveal_at
        )
        if posted or revealed:
            self.signals.notify()
        return {"created": created, "posted": posted, "revealed": revealed}

    def _materialize(self, now: datetime) -> int:
        with self.db.tx() as s:
            schedules = list(s.scalars(select(ScheduleRow).where(ScheduleRow.status == "active")))
        made = 0
        for sch in schedules:
            slot, reveal, ex_id = self._due_slot(sch, now)
            if slot is None or ex_id is None:
                continue
            ex = self.exercises().get(ex_id)
            if ex is None:
                continue
            with self.db.tx() as s:
                res = s.execute(
                    insert(s)(ExercisePostRow)
                    .values(
                        id=str(uuid.uuid4()),
                        schedule_id=sch.id,
                        slot=slot,
                        exercise_id=ex.id,
                        exercise=ex.model_dump_json(),
                        platform=sch.platform,
                        channel=sch.channel,
                        reveal_at=reveal,
                        status="scheduled",
                        late=now - slot > LATE_AFTER,
                    )
                    .on_conflict_do_nothing()
                    .returning(ExercisePostRow.id)
                )
                made += len(res.all())  # RETURNING: PostgreSQL gives no rowcount here
        return made

    def _due_slot(
        self, sch: ScheduleRow, now: datetime
    ) -> tuple[datetime | None, datetime, str | None]:
        """The slot that should exist now, its reveal, and the exercise it shows."""
        if sch.kind == "once":
            slot = S.parse_local(sch.post_spec, sch.tz)
            return (
                (slot if slot <= now else None),
                S.parse_local(sch.reveal_spec, sch.tz),
                sch.exercise_id,
            )
        slot = S.weekly_slot_at_or_before(S.parse_weekly(sch.post_spec), sch.tz, now)
        reveal = S.weekly_reveal(slot, S.parse_weekly(sch.reveal_spec), sch.tz)
        if slot < sch.created_at or reveal <= now:
            return None, reveal, None  # before the plan began, or the whole window was missed
        with self.db.tx() as s:
            exists = s.scalars(
                select(ExercisePostRow.id).where(
                    ExercisePostRow.schedule_id == sch.id, ExercisePostRow.slot == slot
                )
            ).first()
            if exists:
                return None, reveal, None
            used = list(
                s.scalars(
                    select(ExercisePostRow.exercise_id)
                    .where(ExercisePostRow.schedule_id == sch.id)
                    .order_by(ExercisePostRow.slot)
                )
            )
        return slot, reveal, _next_exercise(sorted(self.exercises()), used)

    def _advance(self, now: datetime, frm: str, to: str, kind: Kind, due_col: Any) -> int:
        with self.db.tx() as s:
            due = list(
                s.execute(
                    select(ExercisePostRow.id, ExercisePostRow.platform).where(
                        ExercisePostRow.status == frm, due_col <= now
                    )
                ).all()
            )
        moved = 0
        for post_id, platform in due:
            with self.db.tx() as s:
                won = rowcount(
                    s.execute(
                        update(ExercisePostRow)
                        .where(ExercisePostRow.id == post_id, ExercisePostRow.status == frm)
                        .values(status=to)
                    )
                )
                if won == 1:  # only one process moves each post
                    outbox.enqueue(
                        s,
                        platform=platform,
                        kind=kind,
                        case_id=None,
                        now=now,
                        payload={"post_id": post_id},
                    )
                    moved += 1
        return moved

    def mark(
        self,
        post_id: str,
        status: str,
        message: dict[str, str] | None = None,
        *,
        unless_settled: bool = False,
    ) -> bool:
        """Record a post's state and where its message is. Returns whether it was recorded.

        `unless_settled` records only if the post has no message id yet and is not revealed,
        decided under a row lock in the same transaction: a late answer from the platform
        must not replace an id stored meanwhile, nor may two late answers both be stored."""
        now = self.clock()
        with self.db.tx() as s:
            row = s.get(ExercisePostRow, post_id, with_for_update=unless_settled)
            if row is None:
                return False
            if unless_settled:
                known = json.loads(row.message) if row.message else {}
                if row.status == "revealed" or known.get("activity"):
                    return False
            row.status = status
            if message is not None:
                row.message = json.dumps(message)
            if status == "posted":
                row.posted_at = row.posted_at or now
            if status == "revealed":
                row.revealed_at = row.revealed_at or now
                # answers are closed now: freeze the counts, so retention may delete answers
                row.tally = row.tally or json.dumps(dict(_tally(s, post_id)))
            return True

    # -- staff ------------------------------------------------------------------------------

    def answer(
        self, post_id: str, voter_identity: str, option: str, clicked_at: datetime | None = None
    ) -> ExerciseOption:
        """Record or change one person's answer; refused once the post is revealed.

        When two clicks of one person race, the later click (by the platform's click time)
        wins, whichever is processed last. Returns the answer now stored, which is what the
        person's confirmation must name.
        """
        voter = self.who(voter_identity)
        now = self.clock()
        clicked = clicked_at or now
        with self.db.tx() as s:
            post = s.get(ExercisePostRow, post_id)
            if post is None:
                raise Refused("gone")
            if post.status != "posted" or now >= post.reveal_at:
                raise Refused("exercise_closed")
            ex = Exercise.model_validate_json(post.exercise)
            if option not in {o.id for o in ex.options}:
                raise Refused("invalid")
            stmt = insert(s)(AnswerRow).values(
                post_id=post_id, voter=voter, option=option, at=clicked
            )
            # one row per person: a later click changes the answer
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["post_id", "voter"],
                    set_={"option": option, "at": clicked},
                    where=AnswerRow.at < stmt.excluded.at,
                )
            )
            stored = s.scalar(
                select(AnswerRow.option).where(
                    AnswerRow.post_id == post_id, AnswerRow.voter == voter
                )
            )
        return next(o for o in ex.options if o.id == stored)

    def post(self, post_id: str) -> PostView:
        with self.db.read() as s:
            row = s.get(ExercisePostRow, post_id)
            if row is None:
                raise Refused("gone")
            counts = Counter(json.loads(row.tally)) if row.tally is not None else _tally(s, post_id)
            return PostView(
                row.id,
                Exercise.model_validate_json(row.exercise),
                row.channel,
                row.status,
                row.late,
                row.slot,
                row.reveal_at,
                json.loads(row.message) if row.message else {},
                dict(counts),
                sum(counts.values()),
            )

    def results(self) -> list[dict[str, Any]]:
        """Participation and distribution per posted exercise, oldest first (no individuals;
        no breakdown under MIN_GROUP answers)."""
        with self.db.tx() as s:
            ids = list(
                s.scalars(
                    select(ExercisePostRow.id)
                    .where(ExercisePostRow.status.in_(("posted", "revealing", "revealed")))
                    .order_by(ExercisePostRow.slot)
                )
            )
        out = []
        for pid in ids:
            p = self.post(pid)
            shown = p.total >= MIN_GROUP
            right = sum(p.counts.get(r, 0) for r in p.exercise.recommended)
            out.append(
                {
                    "exercise": p.exercise.id,
                    "topic": p.exercise.topic,
                    "channel": p.channel,
                    "posted_for": p.slot.isoformat(),
                    "status": p.status,
                    "answers": p.total,
                    "distribution": {o.id: p.counts.get(o.id, 0) for o in p.exercise.options}
                    if shown
                    else None,
                    "recommended_share": round(right / p.total, 3) if shown and p.total else None,
                }
            )
        return out


def _next_exercise(all_ids: list[str], used: list[str]) -> str | None:
    """The next exercise never posted in this rotation; after all, the least recently used."""
    if not all_ids:
        return None
    fresh = [e for e in all_ids if e not in used]
    if fresh:
        return fresh[0]
    last_use = {e: i for i, e in enumerate(used)}
    return min(all_ids, key=lambda e: last_use.get(e, -1))


def _tally(s: Any, post_id: str) -> Counter[str]:
    """Answers per option, counted by the database: a busy exercise has thousands of
    answers, and loading one row each to count them made every read of the post grow
    with them."""
    return Counter(
        {
            option: int(n)
            for option, n in s.execute(
                select(AnswerRow.option, func.count())
                .where(AnswerRow.post_id == post_id)
                .group_by(AnswerRow.option)
            )
        }
    )
