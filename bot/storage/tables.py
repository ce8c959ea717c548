"""SQLAlchemy table models: the one place the database shape is declared (Alembic mirrors it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_sessions_owner_status", "owner", "status", "updated_at"),)


class TreeVersionRow(Base):
    """Every tree version ever served, so a session pinned to an old version can finish."""

    __tablename__ = "tree_versions"
    tree_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserPrefRow(Base):
    __tablename__ = "user_prefs"
    owner: Mapped[str] = mapped_column(String(160), primary_key=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    chosen: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeenEventRow(Base):
    """Keys of deliveries already handled (Slack event ids, double-submit tokens)."""

    __tablename__ = "seen_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


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
