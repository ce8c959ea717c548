"""Slack through the real web server: signed requests in, fake Slack Web API calls out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import text

from bot.adapters.slack import actions as A
from tests.fakes.signing import command_body, signed_headers
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, buttons, eventually, start_bot


@pytest.fixture
async def bot(fake: FakeSlack, db_url: str) -> AsyncIterator[SlackBot]:
    """The real server on SQLite, and on PostgreSQL where one answers."""
    b = await start_bot(db_url, fake)
    yield b
    await b.stop()


def _texts(view: dict[str, Any]) -> str:
    """All visible text of a view, for assertions."""
    out = []
    for b in view.get("blocks", []):
        for key in ("text",):
            if isinstance(b.get(key), dict):
                out.append(b[key]["text"])
        for e in b.get("elements", []) or []:
            if isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
            elif isinstance(e.get("text"), str):
                out.append(e["text"])
        if b.get("accessory"):
            out.append(b["accessory"]["text"]["text"])
        if b.get("label"):
            out.append(b["label"]["text"])
    return "\n".join(out)


def _valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()  # slack_sdk's own checks of every nested field
    assert len(view["blocks"]) <= 100


async def test_ethics_without_topic_opens_a_private_picker(bot: SlackBot, fake: FakeSlack) -> None:
    r = await bot.command("")
    assert r.status == 200 and r.body == ""
    (call,) = await fake.wait_for("views.open")
    view = call.args["view"]
    _valid_view(view)
    assert call.args["trigger_id"] == "trig-1"
    assert "mini" in buttons(view).values()
    assert fake.of("chat.postMessage") == []  # nothing lands in a channel


async def test_walk_to_an_outcome_with_back_and_free_text(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("mini")
    (opened,) = await fake.wait_for("views.open")
    view = opened.args["view"]
    _valid_view(view)
    assert "Step 1 of 4 · Identify the ethical issue" in _texts(view)
    choose_other = buttons(view)[f"{A.CHOOSE}:1"]
    r = await bot.click(f"{A.CHOOSE}:1", choose_other)
    assert r.status == 200
    (upd,) = await fake.wait_for("views.update")
    view = upd.args["view"]
    _valid_view(view)
    assert upd.args["view_id"] == "V1"
    assert "Step 2 of 4 · Gather the relevant facts" in _texts(view)
    assert view["submit"]["text"] == "Submit"
    # Back returns to step 1, then choose again
    await bot.click(A.BACK, buttons(view)[A.BACK])
    upd = (await fake.wait_for("views.update", 2))[-1]
    assert "Step 1 of 4" in _texts(upd.args["view"])
    await bot.click(f"{A.CHOOSE}:1", buttons(upd.args["view"])[f"{A.CHOOSE}:1"])
    view = (await fake.wait_for("views.update", 3))[-1].args["view"]
    # the free-text answer comes back in the ack as the next view
    r = await bot.submit(view["private_metadata"], "He said <!channel> & asked for the balance")
    assert r.status == 200
    answer = r.json()
    assert answer["response_action"] == "update"
    _valid_view(answer["view"])
    assert "Remember: never confirm an account exists." in _texts(answer["view"])
    await bot.click(A.CONTINUE, buttons(answer["view"])[A.CONTINUE])
    view = (await fake.wait_for("views.update", 4))[-1].args["view"]
    assert "Step 3 of 4" in _texts(view) and "Policies" in _texts(view)
    await bot.click(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"])
    view = (await fake.wait_for("views.update", 5))[-1].args["view"]
    _valid_view(view)
    shown = _texts(view)
    assert "Report the disclosure" in shown and "must be reported to compliance" in shown
    assert "T-1" in shown and "How did it happen?" in shown
    # the decision record goes to the user's DM, escaped
    await bot.click(A.RECORD_DM, buttons(view)[A.RECORD_DM])
    (dm,) = await fake.wait_for("chat.postMessage")
    assert dm.args["channel"] == "U1"
    assert len(dm.args["blocks"]) <= 50
    record = str(dm.args["blocks"])
    assert "He said &lt;!channel&gt; &amp; asked for the balance" in record
    assert "<!channel>" not in record
    assert "Someone else" in record and "Tell them" in record


async def test_double_click_applies_once(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("mini")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    value = buttons(view)[f"{A.CHOOSE}:0"]
    await bot.click(f"{A.CHOOSE}:0", value)
    await bot.click(f"{A.CHOOSE}:0", value)
    updates = await fake.wait_for("views.update", 2)
    texts = [_texts(u.args["view"]) for u in updates]
    assert all("Step 2 of 4" in t for t in texts)
    assert any("already answered" in t for t in texts)
    with bot.services.db.tx() as s:
        assert s.execute(text("SELECT state_version FROM sessions")).scalar() == 2


async def test_someone_elses_click_is_refused_and_audited(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("mini", user="U1")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    await bot.click(f"{A.CHOOSE}:0", buttons(view)[f"{A.CHOOSE}:0"], user="U2")
    (upd,) = await fake.wait_for("views.update")
    assert "belongs to someone else" in _texts(upd.args["view"])
    with bot.services.db.tx() as s:
        assert s.execute(text("SELECT state_version FROM sessions")).scalar() == 1
        rows = s.execute(text("SELECT action, result, payload FROM audit_log")).all()
    assert [(r[0], r[1]) for r in rows] == [("session.choose", "refused")]
    # who clicked is recorded as a pseudonym: the database never holds raw user ids
    assert bot.services.consult.who("slack:T1:U2") in rows[0][2] and "U2" not in rows[0][2]


async def test_a_value_for_another_node_changes_nothing(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("mini")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    click = A.Click.decode(buttons(view)[f"{A.CHOOSE}:0"])
    assert click is not None
    forged = click.model_copy(update={"node": "weigh"}).encode()
    await bot.click(f"{A.CHOOSE}:0", forged)
    out_of_range = click.model_copy(update={"option": 9}).encode()
    await bot.click(f"{A.CHOOSE}:0", out_of_range)
    await bot.click(f"{A.CHOOSE}:0", "not|a|valid")
    await fake.wait_for("views.update", 2)

    def audited() -> list[str]:
        with bot.services.db.tx() as s:
            return list(s.execute(text("SELECT result FROM audit_log ORDER BY seq")).scalars())

    await eventually(lambda: len(audited()) >= 2)
    assert audited() == ["refused", "refused"]  # the out-of-range option and the garbage value
    with bot.services.db.tx() as s:
        assert s.execute(text("SELECT state_version FROM sessions")).scalar() == 1


async def test_forged_stale_and_malformed_requests_are_refused(
    bot: SlackBot, fake: FakeSlack
) -> None:
    body = command_body("mini")
    assert (await bot.post(body, signed_headers(body, secret="wrong"))).status == 401
    old = int(time.time()) - 600
    assert (await bot.post(body, signed_headers(body, ts=old))).status == 401
    assert (
        await bot.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    ).status == 401
    bad = "payload=%7Bnot-json"
    assert (await bot.post(bad)).status == 400
    huge = "payload=" + "a" * 300_000
    assert (await bot.post(huge)).status == 413
    assert (await bot.post("[1,2]", content_type="application/json")).status == 400
    assert fake.calls == []
    with bot.services.db.tx() as s:
        assert s.execute(text("SELECT count(*) FROM sessions")).scalar() == 0


async def test_help_and_language(bot: SlackBot, fake: FakeSlack) -> None:
    r = await bot.command("help")
    assert r.status == 200 and "/ethics lang zh|en" in r.json()["text"]
    r = await bot.command("lang zh")
    assert r.json()["text"] == "语言已设为中文。"
    await bot.command("mini")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    assert "第 1 步（共 4 步）· 识别伦理问题" in _texts(view)


async def test_language_follows_slack_locale(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("mini", user="UZH")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    assert "是谁在询问？" in _texts(view)
    assert fake.of("users.info")[0].args["include_locale"] in (True, "true", "1")


async def test_unknown_topic_shows_picker_with_a_note(bot: SlackBot, fake: FakeSlack) -> None:
    await bot.command("astrology")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    assert "I don't know the topic 'astrology'" in _texts(view)


async def test_app_home_lists_unfinished_and_ignores_retries(
    bot: SlackBot, fake: FakeSlack
) -> None:
    await bot.command("mini")
    await fake.wait_for("views.open")
    ev = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}
    assert (await bot.event(ev, "Ev1")).status == 200
    assert (await bot.event(ev, "Ev1")).status == 200  # Slack's retry of the same event
    (pub,) = await fake.wait_for("views.publish")
    home = pub.args["view"]
    View(**home).validate_json()
    shown = _texts(home)
    assert "*A caller asks about an account* · 1/4 · <!date^" in shown and "not* a hotline" in shown
    resume = next(v for k, v in buttons(home).items() if k.startswith(A.RESUME))
    await bot.click(f"{A.RESUME}:0", resume, view_type="home", view_id="VHOME")
    await fake.wait_for("views.open", 2)
    assert "Step 1 of 4" in _texts(fake.of("views.open")[-1].args["view"])
    assert len(fake.of("views.publish")) == 1


async def test_message_shortcut_never_copies_the_message(bot: SlackBot, fake: FakeSlack) -> None:
    from tests.fakes.signing import interactive_body

    secret_text = "Customer 6222 0000 1111 balance please <!here>"
    payload = {
        "type": "message_action",
        "callback_id": A.SHORTCUT,
        "trigger_id": "trig-9",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "channel": {"id": "C9"},
        "message": {"ts": "1699.0001", "text": secret_text, "user": "U7"},
        "message_ts": "1699.0001",
        "response_url": "https://hooks.invalid/x",
    }
    assert (await bot.post(interactive_body(payload))).status == 200
    (opened,) = await fake.wait_for("views.open")
    view = opened.args["view"]
    assert "<#C9>" in _texts(view)
    start = (
        buttons(view)[f"{A.START}:1"]
        if buttons(view).get(f"{A.START}:1") == "mini"
        else next(v for v in buttons(view).values() if v == "mini")
    )
    await bot.click(f"{A.START}:0", start, private_metadata=view["private_metadata"])
    await fake.wait_for("views.update")
    assert all(secret_text not in str(c.args) for c in fake.calls)
    with bot.services.db.tx() as s:
        dump = str(s.execute(text("SELECT state, context FROM sessions")).all())
    assert secret_text not in dump and "C9" in dump


async def test_walk_continues_on_another_instance(fake: FakeSlack, db_url: str) -> None:
    first = await start_bot(db_url, fake)
    await first.command("mini")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    await first.click(f"{A.CHOOSE}:0", buttons(view)[f"{A.CHOOSE}:0"])
    view = (await fake.wait_for("views.update"))[0].args["view"]
    await first.stop()
    second = await start_bot(db_url, fake)  # a restart, or another instance behind the LB
    try:
        r = await second.submit(view["private_metadata"], "")
        assert "Remember: never confirm" in _texts(r.json()["view"])
    finally:
        await second.stop()


async def test_healthz_is_liveness_and_readyz_checks_database_and_content(bot: SlackBot) -> None:
    r = await bot.get("/healthz")
    assert r.status == 200 and r.json()["status"] == "ok"
    r = await bot.get("/readyz")
    assert r.status == 200
    assert r.json()["checks"] == {"database": "ok", "schema": "ok", "content": "ok"}


async def test_rate_limited_view_update_is_retried_by_the_client(
    bot: SlackBot, fake: FakeSlack
) -> None:
    await bot.command("mini")
    view = (await fake.wait_for("views.open"))[0].args["view"]
    fake.fail("views.update", 429, times=1, retry_after=1, error="ratelimited")
    await bot.click(f"{A.CHOOSE}:0", buttons(view)[f"{A.CHOOSE}:0"])
    (upd,) = await fake.wait_for("views.update", timeout=15)
    assert "Step 2 of 4" in _texts(upd.args["view"])
    assert [c.method for c in fake.calls].count("views.update!failed") == 1


def test_every_node_of_every_shipped_tree_renders_within_slack_limits() -> None:
    """Each node, in both languages, as the modal and as the decision record message."""
    from bot.adapters.slack import blocks as B
    from bot.core.engine import Engine
    from bot.core.session import SessionState
    from tests.golden import load_walks, replay, shipped

    content = shipped()
    engine = Engine(content.escalation, content.clauses.clauses if content.clauses else {})
    sid = "00000000-0000-0000-0000-000000000000"
    for tree in content.trees.values():
        for lang in ("en", "zh"):
            for node in tree.nodes:
                state = SessionState(
                    id=sid,
                    tree_id=tree.id,
                    tree_version=tree.version,
                    lang=lang,
                    node=node,
                    history=(),
                    status="finished" if tree.nodes[node].outcome else "active",
                )
                view = B.walk_view(engine.view(tree, state).replies, sid, lang, handoff_title="x")
                _valid_view(view)
                assert len(str(view)) < 250_000
    for walk in load_walks():
        for lang in ("en", "zh"):
            _, turn = replay(engine, content, walk, lang)
            record = engine.record(content.trees[walk.tree], turn.state)
            blocks = B.record_blocks(record, lang)
            assert len(blocks) <= 50
            assert sum(len(str(b)) for b in blocks) < 13_000, walk.name  # msg_blocks_too_long


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions"},
        {"type": "block_actions", "actions": [], "user": {"id": "U1"}},
        {"type": "block_actions", "actions": [{"action_id": "eb.choose:0"}], "user": {"id": "U1"}},
        {
            "type": "block_actions",
            "actions": [{"action_id": "eb.choose:0", "value": 7}],
            "user": {"id": "U1"},
            "trigger_id": "t",
        },
        {"type": "view_submission", "view": {"callback_id": "eb.walk"}, "user": {"id": "U1"}},
        {
            "type": "view_submission",
            "view": {"callback_id": "eb.report", "state": {}},
            "user": {"id": "U1"},
        },
        {
            "type": "view_submission",
            "view": {"callback_id": "eb.status", "state": None},
            "user": {"id": "U1"},
        },
        {"type": "message_action", "callback_id": "eb.ask_about_message", "user": {"id": "U1"}},
        {"type": "shortcut", "callback_id": "unknown"},
        {"type": "nonsense"},
    ],
)
async def test_signed_but_malformed_payloads_never_get_a_500(
    bot: SlackBot, fake: FakeSlack, payload: dict[str, Any]
) -> None:
    from tests.fakes.signing import interactive_body

    r = await bot.post(interactive_body(payload))
    assert r.status < 500
    await asyncio.sleep(0.1)  # let any work after the ack finish; it must not break the app
    assert (await bot.get("/healthz")).status == 200


async def test_a_full_backlog_turns_new_consultations_away_politely(
    fake: FakeSlack, sqlite_url: str
) -> None:
    busy = await start_bot(sqlite_url, fake, ETHICSBOT_MAX_BACKLOG="0")
    try:
        r = await busy.command("mini")
        assert r.status == 200 and "very busy" in r.json()["text"]
        await asyncio.sleep(0.2)
        assert fake.of("views.open") == []
        with busy.services.db.tx() as s:
            assert s.execute(text("SELECT count(*) FROM sessions")).scalar() == 0
    finally:
        await busy.stop()


async def test_an_unsigned_body_is_refused_before_anything_reads_it(bot: SlackBot) -> None:
    """Forged, stale or missing signatures get a bare 401 whatever the body holds: a
    malformed body must not earn a 400 that describes our payload schema."""
    from tests.fakes.signing import signed_headers

    malformed = "payload=%7B%22type%22%3A%22block_actions%22%7D"  # signed, it would be a 400
    old = int(time.time()) - 600
    for headers in (
        signed_headers(malformed, secret="forged"),
        signed_headers(malformed, ts=old),
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        r = await bot.post(malformed, headers)
        assert r.status == 401 and r.body == ""
    r = await bot.post(malformed, signed_headers(malformed))
    assert r.status == 400 and "error" in r.json()


class _SessionTransactions:
    """The bot's database transactions that touch consultations or language preferences,
    each as the list of its statements (timers and the outbox worker run beside the request
    and are left out): what one command or click costs the database."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.open: dict[int, list[str]] = {}
        self.done: list[list[str]] = []
        self._event = event
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._stmt)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, conn: Any) -> None:
        self.open[id(conn)] = []

    def _stmt(self, conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        self.open.setdefault(id(conn), []).append(statement)

    def _end(self, conn: Any) -> None:
        stmts = self.open.pop(id(conn), [])
        if any(" sessions" in s or "user_prefs" in s for s in stmts):
            self.done.append(stmts)

    def take(self) -> list[list[str]]:
        out, self.done = self.done, []
        return out

    def close(self) -> None:
        for name, fn in (
            ("begin", self._begin),
            ("before_cursor_execute", self._stmt),
            ("commit", self._end),
            ("rollback", self._end),
        ):
            self._event.remove(self.engine, name, fn)


async def test_a_step_is_one_transaction_and_a_first_contact_two(
    fake: FakeSlack, db_url: str
) -> None:
    """A click reads its session, applies the step and writes it (with an outcome's follow-up)
    in one transaction; a returning person's `/ethics <topic>` reads their language in the
    transaction that writes the session; a first contact looks up the locale once and stores
    it with the session."""
    # no timers or outbox worker in this instance: nothing else uses the database meanwhile
    bot = await start_bot(db_url, fake, ETHICSBOT_DISPATCHER="0")
    await asyncio.sleep(0.2)  # start-up's own transactions are over
    txs = _SessionTransactions(bot.services.db.engine)
    try:
        await bot.command("mini", user="UNEW")
        view = (await fake.wait_for("views.open"))[0].args["view"]
        await eventually(lambda: len(txs.done) >= 2)
        first = txs.take()
        assert len(first) == 2, first  # the stored-language read, then language + session
        assert any("INSERT INTO user_prefs" in s for s in first[1])
        assert any("INSERT INTO sessions" in s for s in first[1])
        assert len(fake.of("users.info")) == 1

        await bot.click(f"{A.CHOOSE}:0", buttons(view)[f"{A.CHOOSE}:0"], user="UNEW")
        (upd,) = await fake.wait_for("views.update")
        assert "Step 2 of 4" in _texts(upd.args["view"])
        (click,) = txs.take()
        assert any(s.lstrip().startswith("SELECT") for s in click)
        assert any(s.lstrip().startswith("UPDATE sessions") for s in click)

        await bot.command("mini", user="UNEW")
        await fake.wait_for("views.open", count=2)
        await eventually(lambda: len(txs.done) >= 1)
        (again,) = txs.take()
        assert any("user_prefs" in s for s in again)
        assert any("INSERT INTO sessions" in s for s in again)
        assert len(fake.of("users.info")) == 1  # the locale was kept
    finally:
        txs.close()
        await bot.stop()



async def test_a_command_that_mentions_payload_is_answered(bot: SlackBot, fake: FakeSlack) -> None:
    """The body is parsed once, by us, as Slack sent it: a command whose text contains the
    word "payload" is a command (bolt's own parser took any such form body for an
    interaction, found no payload field and dispatched nothing: the person got an error)."""
    r = await bot.command("a customer asked for the payload of our API")
    assert r.status == 200
    (opened,) = await fake.wait_for("views.open")
    assert opened.args["view"]["type"] == "modal"
