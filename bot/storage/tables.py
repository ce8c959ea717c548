"""SQLAlchemy table models: the one place the database shape is declared (Alembic mirrors it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class SessionRow(Base):
    """A consultation. `owner` is the platform identity; it is cleared when a session is
    unlinked for an anonymous report."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(160), index=True)
    tree_id: Mapped[str] = mapped_column(String(64))
    tree_version: Mapped[int] = mapped_column(Integer)
    node: Mapped[str] = mapped_column(String(64))
    state_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_sessions_owner_status", "owner", "status", "updated_at"),)


class TreeVersionRow(Base):
    """Every tree version ever served, so a session pinned to an old version can finish."""

    __tablename__ = "tree_versions"
    tree_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserPrefRow(Base):
    __tablename__ = "user_prefs"
    owner: Mapped[str] = mapped_column(String(160), primary_key=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    chosen: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SeenEventRow(Base):
    """Keys of deliveries already handled (Slack event ids, double-submit tokens)."""

    __tablename__ = "seen_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AuditRow(Base):
    """Append-only, hash-chained. Only the chained columns are hashed; `payload` may hold
    personal data and can be deleted by retention without breaking the chain."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(80))
    result: Mapped[str] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str | None] = mapped_column(Text)


class CaseRow(Base):
    """An escalated case. For anonymous cases `reporter` is NULL and every stored time is
    coarsened to the hour; the receipt and passphrase are kept only as salted hashes."""

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    mode: Mapped[str] = mapped_column(String(16))  # named | confidential | anonymous
    topic: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    escalation: Mapped[str] = mapped_column(String(16))
    tree_id: Mapped[str | None] = mapped_column(String(64))
    tree_version: Mapped[int | None] = mapped_column(Integer)
    facts: Mapped[str] = mapped_column(Text)  # JSON: the path by step, never the reporter
    narrative: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee: Mapped[str | None] = mapped_column(String(80))
    reporter: Mapped[str | None] = mapped_column(String(160))
    consent: Mapped[bool] = mapped_column(default=False)
    excluded: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of officer ids
    outcome: Mapped[str | None] = mapped_column(String(32))
    close_reason: Mapped[str | None] = mapped_column(Text)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    passphrase_hash: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    destination: Mapped[str] = mapped_column(String(80))
    card: Mapped[str | None] = mapped_column(Text)  # JSON: where the channel card is
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_due: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseEventRow(Base):
    """The case timeline: what happened, when, by whom (never an anonymous reporter)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    """Messages to send, written in the same transaction as the change they announce."""

    __tablename__ = "outbox"
    # the claim's look-up (platform, status = 'pending', oldest first): migration 0013
    __table_args__ = (Index("ix_outbox_claim", "platform", "status", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)  # whose worker delivers it
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReminderRow(Base):
    """One row per reminder point sent, so each goes out once across all instances."""

    __tablename__ = "case_reminders"
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    point: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class QuotaRow(Base):
    """Reports per reporter per hour, keyed by an hourly-rotating HMAC and deleted after."""

    __tablename__ = "report_quota"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CounterRow(Base):
    """Named counters (case references per year) incremented in the writing transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ScheduleRow(Base):
    """A trainer's plan for a channel: one exercise at a time, or a weekly rotation.
    Times are stored as wall-clock specs with their time zone, so DST and offsets hold."""

    __tablename__ = "exercise_schedules"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # where `channel` is
    channel: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # once | weekly
    exercise_id: Mapped[str | None] = mapped_column(String(64))  # once only
    tz: Mapped[str] = mapped_column(String(64))
    post_spec: Mapped[str] = mapped_column(String(40))  # "2026-12-07T09:00" | "mon 09:00"
    reveal_spec: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | cancelled
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column()


class ExercisePostRow(Base):
    """One posting of one exercise; unique per schedule and slot, so it goes out once."""

    __tablename__ = "exercise_posts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(String(36), index=True)
    slot: Mapped[datetime] = mapped_column()  # the planned post time
    exercise_id: Mapped[str] = mapped_column(String(64))
    exercise: Mapped[str] = mapped_column(Text)  # the exercise as posted (JSON)
    platform: Mapped[str] = mapped_column(String(16))  # where `channel` is
    channel: Mapped[str] = mapped_column(String(80))
    reveal_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), index=True)
    late: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str | None] = mapped_column(Text)  # JSON: where the post is
    posted_at: Mapped[datetime | None] = mapped_column()
    revealed_at: Mapped[datetime | None] = mapped_column()
    tally: Mapped[str | None] = mapped_column(Text)  # JSON counts kept after answers are purged

    __table_args__ = (Index("ux_exercise_posts_slot", "schedule_id", "slot", unique=True),)


class AnswerRow(Base):
    """One answer per person per post (pseudonymous), changeable until the reveal."""

    __tablename__ = "exercise_answers"
    post_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    option: Mapped[str] = mapped_column(String(4))
    at: Mapped[datetime] = mapped_column()


class InstanceSecretRow(Base):
    """Secrets an instance generated itself because the operator set none (the pseudonym
    key when ETHICSBOT_SECRET_KEY is unset outside production). Shared by every instance."""

    __tablename__ = "instance_secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class TeamsConversationRow(Base):
    """Where the Teams bot can post without being spoken to first (exercises, the case desk,
    replies to anonymous reporters): the conversation reference of every conversation the app
    was added to or spoken to in, refreshed on every activity. Rows, not memory, so any
    instance can post proactively after a restart."""

    __tablename__ = "teams_conversations"
    conversation_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    service_url: Mapped[str] = mapped_column(String(500))
    tenant_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16))  # personal, channel, groupChat
    team_id: Mapped[str] = mapped_column(String(300), default="")
    bot_id: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column()


class ReflectionRow(Base):
    """The reflection follow-up of one finished consultation: scheduled, asked, answered.

    Keyed by the consultation and deleted with it (ON DELETE CASCADE): a purged consultation,
    or the one an anonymous report unlinked, leaves no follow-up and no answer behind.
    `owner` is the consultation's pseudonym; `address` is the platform identity the ask is
    sent to, kept only until it is sent (or skipped), never after."""

    __tablename__ = "reflections"
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str] = mapped_column(String(64), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(160))
    tree_id: Mapped[str] = mapped_column(String(64))
    tree_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(64))  # the outcome node
    severity: Mapped[str] = mapped_column(String(16))
    escalation: Mapped[str] = mapped_column(String(16))  # effective, at the outcome
    lang: Mapped[str] = mapped_column(String(8))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the outcome was reached
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # scheduled|queued|asked|answered|skipped
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    turned_out: Mapped[str | None] = mapped_column(String(16))  # better|as_expected|worse
    same_again: Mapped[bool | None] = mapped_column()
    learned: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_reflections_due", "status", "due_at"),)


class ReflectionOptOutRow(Base):
    """People (by pseudonym) who asked never to be sent a reflection follow-up again."""

    __tablename__ = "reflection_optouts"
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamsPersonalChatRow(Base):
    """The personal chat in which a Teams user talks to the bot, by the user's pseudonym.

    Teams lets a bot write to someone first only in a conversation it already has with them,
    and a personal chat's id cannot be derived from the user's id, so the reflection
    follow-up needs it kept. Keyed by the keyed pseudonym (as consultations), never by the
    Teams id; deleted when the person opts out of follow-ups (nothing left to send)."""

    __tablename__ = "teams_personal_chats"
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
