"""Pure Block Kit builders for weekly exercises: the post, the closed post, the reveal.

Posts are bilingual (Chinese first, English below): a channel's readers do not share one
language setting. Nobody's answer is ever shown; under five answers, no breakdown either.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
)

from bot.adapters.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    _button,
    _clip,
    _dicts,
    _md,
    _section,
    escape,
    slack_date,
)
from bot.core.model import Exercise
from bot.exercises.service import MIN_GROUP, PostView

ANSWER = "eb.ex.answer"
POST_EVENT = "ethicsbot_exercise"
REVEAL_EVENT = "ethicsbot_exercise_reveal"


def _head(ex: Exercise, p: PostView) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_clip(f"每周伦理练习 · {ex.title.zh}", 150))),
        ContextBlock(elements=[_md(f"Weekly dilemma · {escape(ex.title.en)}")]),
    ]
    if p.late:
        blocks.append(
            ContextBlock(
                elements=[
                    _md(
                        ":hourglass: 迟发 / Posted late — planned for "
                        f"{slack_date(p.slot, with_time=True)}"
                    )
                ]
            )
        )
    blocks.append(_section(f"{escape(ex.scenario.zh)}\n\n_{escape(ex.scenario.en)}_"))
    return blocks


def post_blocks(p: PostView) -> list[dict[str, Any]]:
    ex = p.exercise
    blocks = _head(ex, p)
    for i, o in enumerate(ex.options):
        blocks.append(
            _section(
                f"*{o.id.upper()}.* {escape(o.label.zh)}\n_{escape(o.label.en)}_",
                _button(f"{o.id.upper()}", f"{ANSWER}:{i}", f"{p.id}|{o.id}"),
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                _md(
                    ":lock: 你的选择只有你自己可见，公布前可修改 · "
                    "Your answer is private and can be "
                    f"changed until the reveal, {slack_date(p.reveal_at, with_time=True)}"
                )
            ]
        )
    )
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def closed_blocks(p: PostView) -> list[dict[str, Any]]:
    blocks = _head(p.exercise, p)
    for o in p.exercise.options:
        blocks.append(_section(f"*{o.id.upper()}.* {escape(o.label.zh)}\n_{escape(o.label.en)}_"))
    blocks.append(
        ContextBlock(
            elements=[
                _md(":checkered_flag: 已结束，答案见讨论串 · Closed — the answer is in the thread")
            ]
        )
    )
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def _bar(n: int, total: int) -> str:
    share = n / total if total else 0
    return "█" * round(share * 20) + f" {n} ({share:.0%})"


def reveal_blocks(p: PostView, clause_titles: dict[str, str]) -> list[dict[str, Any]]:
    ex = p.exercise
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="答案揭晓 · The answer"))]
    if p.total >= MIN_GROUP:
        lines = [f"`{o.id.upper()}` {_bar(p.counts.get(o.id, 0), p.total)}" for o in ex.options]
        blocks.append(
            _section(f"*{p.total}* 位同事作答 · colleagues answered\n" + "\n".join(lines))
        )
    else:
        blocks.append(
            _section(
                f"{p.total} 位同事作答，少于 {MIN_GROUP} 人，不显示分布 · "
                f"Fewer than {MIN_GROUP} answers: no breakdown is shown."
            )
        )
    rec = ", ".join(r.upper() for r in ex.recommended)
    blocks.append(_section(f":white_check_mark: 推荐答案 · Recommended: *{rec}*"))
    blocks.append(DividerBlock())
    for o in ex.options:
        mark = ":white_check_mark:" if o.id in ex.recommended else ":x:"
        cites = " · ".join(f"{c} {escape(clause_titles.get(c, ''))}" for c in o.cites)
        blocks.append(
            _section(
                f"{mark} *{o.id.upper()}. {escape(o.label.zh)}*\n{escape(o.explanation.zh)}\n\n"
                f"_{escape(o.explanation.en)}_"
            )
        )
        if cites:
            blocks.append(ContextBlock(elements=[_md(f"依据 · Based on: {cites}")]))
    if ex.explore_tree:
        blocks.append(
            _section(
                f":compass: 想深入思考？输入 `/ethics {ex.explore_tree}` · "
                f"Walk it through: `/ethics {ex.explore_tree}`"
            )
        )
    return _dicts(blocks, MAX_MESSAGE_BLOCKS)


def fallback(ex: Exercise) -> str:
    return f"每周伦理练习 Weekly dilemma: {ex.title.zh} / {ex.title.en}"


def trainer_home(results: list[dict[str, Any]], schedules: list[Any]) -> list[Block]:
    blocks: list[Block] = [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Weekly exercises")),
    ]
    for sch in schedules:
        if sch.status == "active":
            what = sch.exercise_id or "weekly rotation"
            blocks.append(
                ContextBlock(
                    elements=[
                        _md(
                            f"<#{sch.channel}> · {escape(what)} · {escape(sch.post_spec)} → "
                            f"{escape(sch.reveal_spec)} ({escape(sch.tz)}) · `{sch.id[:8]}`"
                        )
                    ]
                )
            )
    if not results:
        blocks.append(ContextBlock(elements=[_md("No exercise has been posted yet.")]))
    for r in results[-8:]:
        dist = r["distribution"]
        shown = " ".join(f"{k.upper()}:{v}" for k, v in dist.items()) if dist else "—"
        share = r["recommended_share"]
        blocks.append(
            _section(
                f"*{escape(r['exercise'])}* · {r['posted_for'][:10]} · {r['answers']} answers · "
                f"{shown} · recommended {'—' if share is None else f'{share:.0%}'}"
            )
        )
    return blocks
