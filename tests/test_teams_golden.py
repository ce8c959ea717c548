"""Every golden walkthrough walked through Teams (en and zh): typed tree id, then one click
per step on the card the bot answered with; every card the bot sent or answered with
validates against the Adaptive Card 1.5 schema and stays under 28 KB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from bot.bootstrap import bootstrap
from bot.catalog import REPO_ROOT
from bot.config import Settings
from bot.storage.tables import SessionRow
from tests.fakes.teams_connector import FakeConnector, TeamsBot, by_verb, teams_env, texts
from tests.golden import load_walks, shipped

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "adaptive-card.schema.1.5.0.json").read_text("utf-8")
)
VALIDATOR = jsonschema.Draft6Validator(SCHEMA)
WALKS = load_walks()
CONTENT = shipped()


def _strip_msteams(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_msteams(v) for k, v in node.items() if k != "msteams"}
    if isinstance(node, list):
        return [_strip_msteams(v) for v in node]
    return node


def check_card(card: dict[str, Any], where: str) -> None:
    """Adaptive Card 1.5 (schema, version) and Teams' 28 KB limit."""
    assert card.get("version") == "1.5", where
    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    assert size < 28 * 1024, f"{where}: {size} bytes"
    errors = sorted(VALIDATOR.iter_errors(_strip_msteams(card)), key=str)
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.fixture
async def bot(sqlite_url: str) -> AsyncIterator[TeamsBot]:
    fake = await FakeConnector().start()
    b = await TeamsBot(bootstrap(Settings.from_env(teams_env(sqlite_url, REPO_ROOT))), fake).start()
    yield b
    await b.stop()
    await fake.stop()


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_every_golden_walk_reaches_its_outcome_in_teams(bot: TeamsBot, lang: str) -> None:
    locale = "zh-CN" if lang == "zh" else "en-US"
    seen = 0
    for n, walk in enumerate(WALKS):
        aad = f"aad-{lang}-{n}"  # one colleague per walk, so each starts fresh
        card = await bot.say(walk.tree, aad=aad, locale=locale)
        check_card(card, f"{walk.name} start")
        answers = list(walk.answers)
        for _ in range(40):
            choose, proceed, answer = (
                by_verb(card, "choose"),
                by_verb(card, "proceed"),
                by_verb(card, "answer"),
            )
            if choose:
                pick = answers.pop(0)
                assert isinstance(pick, int), walk.name
                card = (await bot.press(choose[pick - 1], aad=aad, locale=locale)).card
            elif answer:
                typed = str(answers.pop(0))
                card = (await bot.press(answer[0], {"answer": typed}, aad=aad, locale=locale)).card
            elif proceed:
                card = (await bot.press(proceed[0], aad=aad, locale=locale)).card
            else:
                break
            seen += 1
            check_card(card, walk.name)
        assert answers == [], f"{walk.name}: answers left {answers}"
        outcome = CONTENT.trees[walk.tree].nodes[walk.outcome].outcome
        assert outcome is not None
        shown = texts(card)
        assert outcome.headline.get(lang) in shown, walk.name
        assert ("决策记录" if lang == "zh" else "Decision record") in shown, walk.name
        if outcome.cites:
            assert outcome.cites[0] in shown, walk.name
    with bot.services.db.read() as s:
        rows = list(s.execute(select(SessionRow.tree_id, SessionRow.node, SessionRow.status)))
    finished = {(r.tree_id, r.node) for r in rows if r.status == "finished"}
    assert finished == {(w.tree, w.outcome) for w in WALKS}
    assert len(rows) == len(WALKS) and seen > len(WALKS)
    # whatever else was posted (nothing but the first card of each walk) validates too
    for p in bot.fake.posted:
        check_card(p.card, "posted")


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_other_cards_validate(bot: TeamsBot, lang: str) -> None:
    locale = "zh-CN" if lang == "zh" else "en-US"
    from tests.fakes.teams_connector import installed

    await bot.post(installed(bot.fake.service_url, locale=locale))
    for typed in ("ethics", "help", "lang " + lang, "balance of a customer", "zzzz qqqq", "公平"):
        await bot.say(typed, locale=locale)
    card = await bot.say("confidentiality", locale=locale)
    saved = (await bot.press(by_verb(card, "save")[0], locale=locale)).card
    welcome = await bot.say("ethics", locale=locale)  # now with an unfinished consultation
    assert by_verb(welcome, "resume")
    resumed = (await bot.press(by_verb(welcome, "resume")[0], locale=locale)).card
    searched = (
        await bot.press(
            by_verb(welcome, "search")[0], {"describe": "gift from a client"}, locale=locale
        )
    ).card
    empty = (await bot.press(by_verb(welcome, "search")[0], {"describe": "  "}, locale=locale)).card
    forged = (await bot.press({"verb": "choose", "data": {"s": "nope"}}, locale=locale)).card
    for i, c in enumerate([saved, resumed, searched, empty, forged]):
        check_card(c, f"answer {i}")
    for p in bot.fake.posted:
        check_card(p.card, "posted")
    assert len(bot.fake.posted) >= 9
