"""Free-text search: accuracy on staff's own words, edge inputs, the CLI, Slack, privacy."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.models.views import View
from sqlalchemy import inspect, text

from bot.adapters.slack import actions as A
from bot.adapters.slack import blocks as B
from bot.catalog import Content, content_root, load_content
from bot.content import ContentSource
from bot.search import MAX_CHARS, find_guides
from bot.storage.db import Database, upgrade
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, buttons, eventually, start_bot

LABELLED = Path(__file__).parent / "search_labelled.yaml"
ROOT = content_root()
NEW_TREES = {
    "aml-red-flags-tipping-off",
    "sales-pressure-manager",
    "unapproved-product-fly-order",
    "kyc-coached-answers",
    "inside-information-trading",
    "customer-data-social-media",
}


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(ROOT)


def _labelled() -> list[dict[str, str]]:
    return list(yaml.safe_load(LABELLED.read_text(encoding="utf-8")))


def test_the_labelled_set_is_big_bilingual_and_covers_every_guide(content: Content) -> None:
    entries = _labelled()
    assert len(entries) >= 100
    langs = Counter(e["lang"] for e in entries)
    assert abs(langs["zh"] - langs["en"]) <= 2
    per_tree = Counter(e["tree"] for e in entries)
    expected = (set(content.trees) - {"triage"}) | NEW_TREES
    assert set(per_tree) == expected
    assert min(per_tree.values()) >= 6
    for e in entries:  # the label says which language the text really is in
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in e["text"])
        assert has_cjk == (e["lang"] == "zh"), e["text"]


def test_top3_accuracy_at_least_90_percent_in_each_language(content: Content) -> None:
    index = content.search_index()
    seen: Counter[str] = Counter()
    top1: Counter[str] = Counter()
    top3: Counter[str] = Counter()
    misses = []
    for e in _labelled():
        if e["tree"] not in content.trees:
            continue  # a guide still being written: counted once it lands
        ids = [g.id for g in find_guides(index, e["text"], e["lang"]).guides]
        seen[e["lang"]] += 1
        top1[e["lang"]] += ids[:1] == [e["tree"]]
        top3[e["lang"]] += e["tree"] in ids
        if e["tree"] not in ids:
            misses.append((e["tree"], e["text"], ids))
    for lang in ("zh", "en"):
        assert seen[lang] >= 25
        print(
            f"{lang}: {seen[lang]} descriptions, top-1 {top1[lang] / seen[lang]:.0%}, "
            f"top-3 {top3[lang] / seen[lang]:.0%}"
        )
    for lang in ("zh", "en"):
        assert top3[lang] / seen[lang] >= 0.9, misses


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).lower()


def test_why_words_are_words_the_person_typed(content: Content) -> None:
    index = content.search_index()
    for e in _labelled():
        found = find_guides(index, e["text"], e["lang"])
        for g in found.guides:
            assert g.why, (e["text"], g.id)
            for w in g.why:
                assert w in _norm(e["text"]), (w, e["text"])


def test_results_are_in_the_language_asked_for(content: Content) -> None:
    index = content.search_index()
    zh = find_guides(index, "客户中秋送了我一张购物卡")
    assert zh.lang == "zh" and zh.guides[0].id == "conflict-of-interest-gift"
    assert zh.guides[0].title == content.trees["conflict-of-interest-gift"].title.zh
    assert zh.triage is not None and zh.triage.title == content.trees["triage"].title.zh
    en = find_guides(index, "客户中秋送了我一张购物卡", "en")
    assert en.guides[0].title == content.trees["conflict-of-interest-gift"].title.en


@pytest.mark.parametrize(
    "typed",
    ["", "   \n\t", "🙂🙏🔥", ":smile: :+1:", "<!channel> <@U123ABC> <#C1|general>", "？？！！…"],
)
def test_inputs_without_words_get_a_clear_answer(content: Content, typed: str) -> None:
    found = find_guides(content.search_index(), typed)
    assert found.status == "empty" and found.guides == []
    assert found.triage is not None and found.triage.id == "triage"  # never a dead end


def test_markup_is_ignored_but_the_words_around_it_count(content: Content) -> None:
    found = find_guides(content.search_index(), "<!channel> <@U123> 客户塞给我一个红包 :scream:")
    assert found.guides[0].id == "conflict-of-interest-gift"
    assert all("channel" not in w and "u123" not in w for g in found.guides for w in g.why)


def test_a_100_kb_paste_is_cut_and_still_answered(content: Content) -> None:
    """(How fast is bench's business, not a test's: tests assert no wall-clock times.)"""
    index = content.search_index()
    huge = ("客户送了我一个红包，" * 12000)[:100_000]
    found = find_guides(index, huge)
    assert found.truncated and found.status == "ok"
    assert found.guides[0].id == "conflict-of-interest-gift"
    nonsense = find_guides(index, "x" * 100_000 + " 🙂" * 1000)
    assert nonsense.truncated and nonsense.status in ("empty", "no_match")
    assert MAX_CHARS <= 5000


def test_words_no_guide_knows_are_no_match_with_triage(content: Content) -> None:
    found = find_guides(content.search_index(), "astrology horoscope zodiac")
    assert found.status == "no_match" and found.guides == []
    assert found.triage is not None


def test_query_latency_after_the_index_is_built(content: Content) -> None:
    index = content.search_index()
    entries = _labelled()
    start = time.perf_counter()
    for e in entries:
        find_guides(index, e["text"], e["lang"])
    per_query = (time.perf_counter() - start) / len(entries)
    print(f"query latency: {per_query * 1000:.2f} ms average over {len(entries)}")
    assert per_query < 0.05


def test_nothing_typed_reaches_the_logs(content: Content, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    find_guides(content.search_index(), "zqxjsecretphrase 我舅舅的存款")
    assert "zqxjsecretphrase" not in caplog.text and "舅舅" not in caplog.text


def _copy_content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(ROOT / "dilemmas", root / "dilemmas")
    shutil.copytree(ROOT / "policies", root / "policies")
    return root


def test_the_index_is_rebuilt_when_content_reloads(tmp_path: Path, sqlite_url: str) -> None:
    root = _copy_content(tmp_path)
    db = Database(sqlite_url)
    upgrade(db.engine)
    source = ContentSource(root, db, {}, check_every=0)
    assert source.content.search is not None  # built at load, not on the first request
    q = "quokkaword"
    assert find_guides(source.content.search_index(), q).status == "no_match"
    f = root / "dilemmas" / "fair-treatment-vip-queue.yaml"
    raw = f.read_text(encoding="utf-8")
    raw = re.sub(r"(?m)^version: (\d+)$", lambda m: f"version: {int(m[1]) + 1}", raw).replace(
        "dialect,", f"{q},", 1
    )
    f.write_text(raw, encoding="utf-8")
    assert source.maybe_reload(force=True)
    assert source.content.search is not None
    found = find_guides(source.content.search_index(), q)
    assert [g.id for g in found.guides] == ["fair-treatment-vip-queue"]
    db.dispose()


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("ETHICSBOT_CONTENT", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "find", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_json_is_a_ranking_other_tools_can_read() -> None:
    r = _cli("客户每次存现金都分开存", "--json")
    assert r.returncode == 0 and r.stderr == ""  # jieba and bm25s stay quiet
    rows = json.loads(r.stdout)
    assert isinstance(rows, list) and 1 <= len(rows) <= 3
    for row in rows:
        assert set(row) == {"id", "title", "score", "why"}
        assert isinstance(row["score"], float) and row["why"].startswith("匹配词：")
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    en = json.loads(
        _cli("my", "colleague", "looked", "up", "a", "celebrity's", "account", "--json").stdout
    )
    assert en[0]["id"] == "confidentiality-relative-account"
    assert en[0]["why"].startswith("Matched: ")


def test_cli_text_output_and_edge_inputs() -> None:
    r = _cli("a customer slipped me a red envelope", "--lang", "zh")
    assert r.returncode == 0
    assert r.stdout.startswith("1. conflict-of-interest-gift")
    assert "客户送礼请客" in r.stdout and "triage" in r.stdout
    empty = _cli("--json", stdin="🙂 <!channel>")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    big = _cli(stdin="红包" * 50_000)
    assert big.returncode == 0 and "conflict-of-interest-gift" in big.stdout


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def bot(fake: FakeSlack, db_url: str) -> AsyncIterator[SlackBot]:
    b = await start_bot(db_url, fake, content=ROOT)
    yield b
    await b.stop()


def _texts(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


async def test_ethics_with_own_words_shows_three_best_triage_and_compliance(
    bot: SlackBot, fake: FakeSlack
) -> None:
    typed = "客户要把现金拆成好几笔存 <!channel> 老人被催着转账到安全账户"
    r = await bot.command(typed)
    assert r.status == 200
    view = (await fake.wait_for("views.open"))[0].args["view"]
    View(**view).validate_json()
    b = buttons(view)
    # Two worries in one message: both guides are among the three offered.
    top = {b.get(f"{A.START}:{i}") for i in range(3)}
    assert "fair-treatment-elderly-customer" in top
    if (ROOT / "dilemmas" / "aml-red-flags-tipping-off.yaml").exists():
        assert "aml-red-flags-tipping-off" in top
    assert b[f"{A.START}:9"] == "triage" and B.TALK_COMPLIANCE in b
    starts = [k for k in b if k.startswith(A.START) and k != f"{A.START}:9"]
    assert 1 <= len(starts) <= 3
    assert "Matched: 老人" in _texts(view)  # their own words, in the user's interface language
    assert "<!channel>" not in _texts(view)
    # the results lead somewhere: open the best guide
    await bot.click(f"{A.START}:0", b[f"{A.START}:0"])
    upd = (await fake.wait_for("views.update"))[0].args["view"]
    assert "Step 1" in _texts(upd) or "第 1 步" in _texts(upd) or "1/4" in _texts(upd)


async def test_talk_to_compliance_opens_the_speak_up_modal(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("quokka wombat platypus")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    assert "No guide matched" in _texts(view)
    b = buttons(view)
    assert b[f"{A.START}:9"] == "triage"
    await bot.click(B.TALK_COMPLIANCE, b[B.TALK_COMPLIANCE])
    upd = (await fake.wait_for("views.update"))[0].args["view"]
    assert upd["callback_id"] == "eb.report"


def _picker_submit(text_value: str | None) -> str:
    return interactive_body(
        {
            "type": "view_submission",
            "user": {"id": "U1", "team_id": "T1"},
            "team": {"id": "T1", "domain": "bank"},
            "api_app_id": "A1",
            "trigger_id": "trig-3",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": A.PICKER_VIEW,
                "private_metadata": "",
                "hash": "h",
                "state": {
                    "values": {
                        B.DESCRIBE_BLOCK: {
                            B.DESCRIBE: {"type": "plain_text_input", "value": text_value}
                        }
                    }
                },
            },
        }
    )


async def test_picker_describe_box_searches(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("")
    picker = (await fake.wait_for("views.open"))[0].args["view"]
    View(**picker).validate_json()
    assert "Describe your situation" in _texts(picker) and picker["submit"]["text"] == "Search"
    r = await bot.post(_picker_submit("a customer keeps depositing cash just under the limit"))
    body = r.json()
    assert r.status == 200 and body["response_action"] == "update"
    View(**body["view"]).validate_json()
    b = buttons(body["view"])
    assert f"{A.START}:0" in b and b[f"{A.START}:9"] == "triage" and B.TALK_COMPLIANCE in b
    assert "Matched: " in _texts(body["view"])
    empty = (await bot.post(_picker_submit("🙂"))).json()
    assert empty["response_action"] == "errors" and B.DESCRIBE_BLOCK in empty["errors"]


async def test_enter_in_the_describe_box_updates_the_modal(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.click(B.DESCRIBE, "the wife rang asking for her husband's balance")
    upd = (await fake.wait_for("views.update"))[0].args["view"]
    assert buttons(upd)[f"{A.START}:0"] == "confidentiality-caller-enquiry"


async def test_what_was_typed_is_stored_nowhere(bot: SlackBot, fake: FakeSlack) -> None:
    secret = "zqxjmarker 我舅舅的存款余额"
    await bot.command(secret)
    await fake.wait_for("views.open")
    await bot.click(B.DESCRIBE, secret)
    await fake.wait_for("views.update")
    await eventually(lambda: not bot.services.db.engine.pool.checkedout())
    with bot.services.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert "zqxjmarker" not in str(row) and "舅舅" not in str(row), table
