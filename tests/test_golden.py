"""Every golden walkthrough replayed through the engine, the console and Slack."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.adapters.console.loop import Console
from bot.adapters.slack import actions as A
from bot.bootstrap import bootstrap
from bot.catalog import REPO_ROOT
from bot.config import Settings
from bot.core.engine import Engine
from tests.conftest import settings_env
from tests.fakes.slack_api import FakeSlack
from tests.golden import Walk, load_walks, replay, shipped
from tests.harness import buttons, start_bot

WALKS = load_walks()
CONTENT = shipped()
ENGINE = Engine(CONTENT.escalation, CONTENT.clauses.clauses if CONTENT.clauses else {})


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: w.name)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_engine_replay(walk: Walk, lang: str) -> None:
    visited, turn = replay(ENGINE, CONTENT, walk, lang)
    assert tuple(visited) == walk.path
    assert turn.state.node == walk.outcome and turn.state.status == "finished"
    (event,) = turn.events
    assert event.escalation == walk.escalation
    record = ENGINE.record(CONTENT.trees[walk.tree], turn.state)
    steps_seen = [s.step.value for s in record.steps if s.entries or s.weighing]
    assert steps_seen[:1] == ["identify"] and "evaluate" in steps_seen


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: w.name)
def test_console_replay(walk: Walk, tmp_path: Path) -> None:
    services = bootstrap(
        Settings.from_env(settings_env(f"sqlite:///{tmp_path / 'c.db'}", REPO_ROOT))
    )
    out: list[str] = []
    stdin = io.StringIO("".join(f"{a}\n" for a in walk.answers))
    console = Console(services.consult, stdin=stdin, out=out.append, owner="console:test")
    assert console.run(tree_id=walk.tree, lang="en") == 0
    (done,) = services.consult.sessions("console:test", "finished")
    headline = CONTENT.trees[walk.tree].nodes[walk.outcome].outcome.headline.en  # type: ignore[union-attr]
    assert done.headline == headline
    screen = "\n".join(out)
    assert "Step 1 of 4" in screen and "Step 4 of 4" in screen and "Decision record" in screen
    # each reflection prompt is one bullet, however the terminal wraps it, with its words whole
    outcome = CONTENT.trees[walk.tree].nodes[walk.outcome].outcome
    prompts = [r.en for r in outcome.reflect]  # type: ignore[union-attr]
    block = screen.split("\nReflect:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    bullets = " ".join(line.strip() for line in block).split("• ")[1:]
    assert [b.strip() for b in bullets] == prompts


@pytest.fixture(scope="module")
def slack_walks() -> list[Walk]:
    return WALKS


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: w.name)
async def test_slack_replay(walk: Walk, fake: FakeSlack, tmp_path: Path) -> None:
    bot = await start_bot(f"sqlite:///{tmp_path / 's.db'}", fake, REPO_ROOT)
    try:
        await bot.command(walk.tree)
        view = (await fake.wait_for("views.open"))[0].args["view"]
        answers = list(walk.answers)
        updates = 0
        while True:
            ids = {
                e.get("action_id")
                for b in view["blocks"]
                for e in [b.get("accessory") or {}, *(b.get("elements") or [])]
            }
            if A.RECORD_DM in ids:
                break
            if view.get("submit"):  # a free-text question
                r = await bot.submit(view["private_metadata"], str(answers.pop(0)) or None)
                view = r.json()["view"]
                continue
            if A.CONTINUE in ids:
                await bot.click(A.CONTINUE, buttons(view)[A.CONTINUE])
            else:
                choice = int(answers.pop(0)) - 1
                await bot.click(f"{A.CHOOSE}:{choice}", buttons(view)[f"{A.CHOOSE}:{choice}"])
            updates += 1
            view = (await fake.wait_for("views.update", updates))[-1].args["view"]
        headline = CONTENT.trees[walk.tree].nodes[walk.outcome].outcome.headline.en  # type: ignore[union-attr]
        headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
        assert headers == ["Step 4 of 4 · Decide, act and reflect", headline[:150]]
        assert answers == []
        assert len(view["blocks"]) <= 100
    finally:
        await bot.stop()
