"""The trainers' exercise command, read once for every platform.

Slack types it as `/ethics exercise …`, Teams as `@EthicsBot exercise …`; the words after
`exercise` are the same, and so are their meaning and the answers. Each adapter used to carry
its own copy of this parser, with English answers written inline: the copies had already
drifted (one listed cancelled schedules, one did not; neither knew which platform a schedule
was on). Here it is read once and answered through bot/messages.py in the trainer's language;
the adapter only supplies how a channel is named on its platform.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.exercises.service import ExerciseService, ScheduleInfo
from bot.messages import msg
from bot.service import Refused

DEFAULT_TZ = "Asia/Shanghai"
# the words each kind of schedule needs before its optional time zone:
#   weekly DAY HH:MM DAY HH:MM      once EXERCISE POST REVEAL
SHAPES = {"weekly": 4, "once": 3}


def run(
    x: ExerciseService,
    words: list[str],
    *,
    trainer: str,
    platform: str,
    channel: str,
    lang: str,
    where: Callable[[str], str],
) -> str:
    """Carry out the command and say what happened (neutral markup); "" asks for the help.

    `where(channel)` names a schedule's channel as the platform shows it. `list` shows only
    this platform's active schedules: a Teams trainer cannot act on a Slack channel id, and
    the other platform's trainers keep their own list. Refusals (not a trainer, a bad time,
    an unknown exercise) raise `Refused` for the adapter to word.
    """
    if not words or words[0].lower() == "help":
        return ""
    cmd, args = words[0].lower(), words[1:]
    if cmd == "list":
        mine = [s for s in _platforms(x, platform) if s.status == "active"]
        lines = [
            msg(
                "exercise_list_line",
                lang,
                id=s.id[:8],
                where=where(s.channel),
                what=s.exercise_id or msg("exercise_weekly_rotation", lang),
                post=s.post_spec,
                reveal=s.reveal_spec,
                tz=s.tz,
            )
            for s in mine
        ]
        return "\n".join(lines) or msg("exercise_list_empty", lang)
    if cmd in SHAPES and len(args) >= SHAPES[cmd]:
        return _schedule(
            x, cmd, args, trainer=trainer, platform=platform, channel=channel, lang=lang
        )
    if cmd == "cancel" and args:
        prefix = args[0].lower()
        match = [s for s in _platforms(x, platform) if s.id.startswith(prefix)]
        if len(match) != 1:
            raise Refused("gone")
        s = x.cancel(trainer, match[0].id)
        return msg("exercise_cancelled", lang, id=s.id[:8])
    return ""


def _schedule(
    x: ExerciseService,
    kind: str,
    args: list[str],
    *,
    trainer: str,
    platform: str,
    channel: str,
    lang: str,
) -> str:
    """`weekly` and `once` differ only in how their words read; one call schedules both, so
    a check or an argument added to scheduling reaches both kinds."""
    if kind == "weekly":
        exercise_id, post, reveal = None, f"{args[0]} {args[1]}", f"{args[2]} {args[3]}"
    else:
        exercise_id, post, reveal = args[0], args[1], args[2]
    tz = args[SHAPES[kind]] if len(args) > SHAPES[kind] else DEFAULT_TZ
    s = x.schedule(
        trainer,
        platform=platform,
        channel=channel,
        kind=kind,
        exercise_id=exercise_id,
        post=post,
        reveal=reveal,
        tz=tz,
    )
    return msg(f"exercise_{kind}_scheduled", lang, exercise=s.exercise_id or "", **_said(s))


def wants_results(words: list[str]) -> bool:
    """`exercise results`: a picture, which each platform delivers its own way."""
    return bool(words) and words[0].lower() == "results"


def _platforms(x: ExerciseService, platform: str) -> list[ScheduleInfo]:
    return [s for s in x.schedules() if s.platform == platform]


def _said(s: ScheduleInfo) -> dict[str, str]:
    return {"id": s.id[:8], "post": s.post_spec, "reveal": s.reveal_spec, "tz": s.tz}
