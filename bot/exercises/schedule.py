"""When exercises post and reveal: wall-clock specs in a named time zone -> UTC instants.

Pure functions. A weekly rotation is "mon 09:00" / "fri 16:00" in e.g. Asia/Shanghai; a
one-off is "2026-12-07T09:00" / "2026-12-11T16:00". Specs are kept as written with their
zone, so a post stays at 09:00 local time whatever the offset does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)\s+([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A spec a trainer typed that cannot be used; the message says how to write it."""


@dataclass(frozen=True)
class Weekly:
    day: int
    at: time

    def spec(self) -> str:
        return f"{DAYS[self.day]} {self.at.strftime('%H:%M')}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone '{name}' (e.g. Asia/Shanghai)") from None


def parse_weekly(spec: str) -> Weekly:
    m = _WEEKLY.match(spec.strip().lower())
    if not m:
        raise ScheduleError(f"'{spec}' is not a weekly time like 'mon 09:00'")
    return Weekly(DAYS.index(m.group(1)), time(int(m.group(2)), int(m.group(3))))


def parse_local(spec: str, tz: str) -> datetime:
    """'2026-12-07T09:00' (or with a space) in zone tz -> aware UTC."""
    try:
        naive = datetime.fromisoformat(spec.strip().replace(" ", "T"))
    except ValueError:
        raise ScheduleError(f"'{spec}' is not a date and time like 2026-12-07T09:00") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=zone(tz)).astimezone(UTC)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def weekly_slot_at_or_before(w: Weekly, tz_name: str, now: datetime) -> datetime:
    """The latest weekly post time not after `now`."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - w.day) % 7)
    slot = _at(day, w.at, tz)
    if slot > now:
        slot = _at(day - timedelta(days=7), w.at, tz)
    return slot


def weekly_reveal(post: datetime, reveal: Weekly, tz_name: str) -> datetime:
    """The first reveal time after the post (same week, or the next one)."""
    tz = zone(tz_name)
    local = post.astimezone(tz)
    day = local.date() + timedelta(days=(reveal.day - local.weekday()) % 7)
    at = _at(day, reveal.at, tz)
    return at if at > post else _at(day + timedelta(days=7), reveal.at, tz)


def check(kind: str, post_spec: str, reveal_spec: str, tz: str) -> None:
    """Raise ScheduleError unless the specs make a usable schedule."""
    zone(tz)
    if kind == "weekly":
        p, r = parse_weekly(post_spec), parse_weekly(reveal_spec)
        if p == r:
            raise ScheduleError("the reveal must come after the post")
    elif kind == "once":
        if parse_local(reveal_spec, tz) <= parse_local(post_spec, tz):
            raise ScheduleError("the reveal must come after the post")
    else:
        raise ScheduleError(f"unknown schedule kind '{kind}'")
