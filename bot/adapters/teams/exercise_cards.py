"""Pure Adaptive Card 1.5 builders for weekly exercises in Teams channels.

As in Slack (bot/adapters/slack/exercise_blocks.py): posts are bilingual (Chinese first,
English below) because a channel's readers share no language setting; nobody's answer is
ever shown; under five answers, no breakdown either. Teams has no ephemeral messages, so a
person's confirmation is the answer to their own click (`answered_card`): Teams shows an
invoke's answer to the clicker only, and the channel message itself never changes until
the reveal replaces it for everyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.adapters.teams.cards import Card, execute, finish, notice_block, text
from bot.adapters.teams.case_cards import when
from bot.adapters.teams.reports import chart_image
from bot.core.model import Exercise, ExerciseOption
from bot.exercises.service import MIN_GROUP, PostView

if TYPE_CHECKING:
    from bot.reports.charts import Chart

V_ANSWER = "ex.answer"  # data: p = post id, o = option id


def _head(p: PostView) -> list[dict[str, Any]]:
    ex = p.exercise
    body: list[dict[str, Any]] = [
        text(f"每周伦理练习 · {ex.title.zh}", size="Large", weight="Bolder"),
        text(f"Weekly dilemma · {ex.title.en}", isSubtle=True, spacing="None"),
    ]
    if p.late:
        body.append(text(f"⌛ 迟发 / Posted late — planned for {when(p.slot)}", isSubtle=True))
    body.append(text(ex.scenario.zh))
    body.append(text(f"_{ex.scenario.en}_", spacing="Small"))
    return body


def _options(ex: Exercise) -> list[dict[str, Any]]:
    return [
        text(f"**{o.id.upper()}.** {o.label.zh}\n\n_{o.label.en}_", separator=True)
        for o in ex.options
    ]


def post_card(p: PostView) -> Card:
    """The channel post: the scenario, the options, one button per option."""
    body = [*_head(p), *_options(p.exercise)]
    body.append(
        text(
            "🔒 你的选择只有你自己可见，公布前可修改 · Your answer is private and can be changed "
            f"until the reveal, {when(p.reveal_at)}",
            isSubtle=True,
            spacing="Medium",
        )
    )
    actions = [execute(o.id.upper(), V_ANSWER, {"p": p.id, "o": o.id}) for o in p.exercise.options]
    return finish(body, actions)


def answered_card(p: PostView, chosen: ExerciseOption, lang: str, note: str) -> Card:
    """What only the clicker sees after answering: the post, and their own answer."""
    card = post_card(p)
    mark = {"type": "Container", "style": "good", "items": [notice_text(note)]}
    return finish([mark, *card["body"]], card.get("actions", []))


def notice_text(note: str) -> dict[str, Any]:
    return text(f"✅ {note}", weight="Bolder")


def refused_card(p: PostView | None, note: str) -> Card:
    """The clicker's copy when the answer was refused (closed, unknown option)."""
    if p is None:
        return finish([notice_block(note)])
    card = closed_card(p) if p.status in ("revealing", "revealed") else post_card(p)
    return finish([notice_block(note), *card["body"]], card.get("actions", []))


def closed_card(p: PostView) -> Card:
    """The post after the reveal: no buttons any more, for everyone."""
    body = [*_head(p), *_options(p.exercise)]
    body.append(
        text("🏁 已结束，答案见讨论串 · Closed — the answer is in the thread", isSubtle=True)
    )
    return finish(body)


def _bar(n: int, total: int) -> str:
    share = n / total if total else 0
    return "█" * round(share * 20) + f" {n} ({share:.0%})"


def reveal_card(p: PostView, clause_titles: dict[str, str], chart: Chart | None = None) -> Card:
    """The reveal, replied into the post's thread: distribution (not under MIN_GROUP), as
    bars of text and, when given, as the chart (recommended answer marked, inline as a data
    URI: see bot/adapters/teams/reports.py), the recommended answer, every option's
    explanation with its clauses, the related tree."""

    ex = p.exercise
    body: list[dict[str, Any]] = [text("答案揭晓 · The answer", size="Large", weight="Bolder")]
    if p.total >= MIN_GROUP:
        body.append(text(f"**{p.total}** 位同事作答 · colleagues answered"))
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": o.id.upper(), "value": _bar(p.counts.get(o.id, 0), p.total)}
                    for o in ex.options
                ],
            }
        )
        if chart is not None:
            body.append(chart_image(chart))
    else:
        body.append(
            text(
                f"{p.total} 位同事作答，少于 {MIN_GROUP} 人，不显示分布 · "
                f"Fewer than {MIN_GROUP} answers: no breakdown is shown."
            )
        )
    rec = ", ".join(r.upper() for r in ex.recommended)
    body.append(text(f"✅ 推荐答案 · Recommended: **{rec}**"))
    for o in ex.options:
        mark = "✅" if o.id in ex.recommended else "❌"
        body.append(text(f"{mark} **{o.id.upper()}. {o.label.zh}**", separator=True))
        body.append(text(o.explanation.zh, spacing="Small"))
        body.append(text(f"_{o.explanation.en}_", spacing="Small"))
        cites = " · ".join(f"{c} {clause_titles.get(c, '')}".strip() for c in o.cites)
        if cites:
            body.append(text(f"依据 · Based on: {cites}", isSubtle=True, spacing="Small"))
    if ex.explore_tree:
        body.append(
            text(
                f"🧭 想深入思考？在与道德助手的私聊中输入 `{ex.explore_tree}` · "
                f"Walk it through: type `{ex.explore_tree}` in your chat with EthicsBot",
                spacing="Medium",
            )
        )
    return finish(body)


def summary(ex: Exercise) -> str:
    return f"每周伦理练习 Weekly dilemma: {ex.title.zh} / {ex.title.en}"
