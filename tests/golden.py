"""Golden walkthroughs: loading them and replaying them through the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.catalog import REPO_ROOT, Content, load_content
from bot.core.engine import Engine, Turn
from bot.core.replies import Ask, AskText, Continue, OutcomeReply

GOLDEN_DIR = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Walk:
    tree: str
    answers: tuple[int | str, ...]
    path: tuple[str, ...]
    outcome: str
    escalation: str

    @property
    def name(self) -> str:
        return f"{self.tree}->{self.outcome}"


def load_walks() -> list[Walk]:
    walks = []
    for f in sorted(GOLDEN_DIR.glob("*.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        for w in data["walks"]:
            walks.append(
                Walk(
                    data["tree"],
                    tuple(w["answers"]),
                    tuple(w["path"]),
                    w["outcome"],
                    w["escalation"],
                )
            )
    return walks


def shipped() -> Content:
    return load_content(REPO_ROOT, environ={})


def replay(
    engine: Engine, content: Content, walk: Walk, lang: str = "en"
) -> tuple[list[str], Turn]:
    """Feed the answers as a console user would; return the nodes visited and the last turn."""
    tree = content.trees[walk.tree]
    turn = engine.start(tree, "00000000-0000-0000-0000-000000000000", lang)
    visited = [turn.state.node]
    answers = list(walk.answers)
    while True:
        last = turn.replies[-1]
        if isinstance(last, OutcomeReply):
            break
        if isinstance(last, Continue):
            turn = engine.proceed(tree, turn.state, node=last.node, version=last.version)
        elif isinstance(last, Ask):
            choice = answers.pop(0)
            assert isinstance(choice, int), f"expected an option number at {last.node}"
            turn = engine.choose(
                tree, turn.state, node=last.node, version=last.version, option=choice - 1
            )
        elif isinstance(last, AskText):
            text = answers.pop(0)
            turn = engine.answer(
                tree, turn.state, node=last.node, version=last.version, text=str(text)
            )
        visited.append(turn.state.node)
    assert answers == [], f"answers left over: {answers}"
    return visited, turn
