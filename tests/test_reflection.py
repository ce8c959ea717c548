"""Reflection follow-up through the real server and a fake Slack: asked once (two instances,
a restart, downtime), never to someone who opted out or whose consultation is gone, "worse"
offers compliance at once, and trainers see only groups of at least five."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.adapters.slack import actions as A
from bot.adapters.slack import case_blocks as CB
from bot.adapters.slack import reflection_blocks as RB
from bot.adapters.slack.blocks import TALK_COMPLIANCE
from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.core.policy import Retention
from bot.delivery import outbox
from bot.retention import purge
from bot.service import Action
from tests.conftest import FIXTURE_CONTENT, settings_env
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, buttons, eventually, slack_env, start_bot
from tests.test_cases import FAST, FakeClock, report_submission, walk_to_required

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SAFE, LEAK = 0, 1  # the option at "weigh" in tests/fixtures/content/dilemmas/mini.yaml


async def walk(bot: SlackBot, fake: FakeSlack, user: str, last: int) -> None:
    """/ethics mini to an outcome: `SAFE` (low, no escalation) or `LEAK` (report required)."""
    n_open, n_upd = len(fake.of("views.open")), len(fake.of("views.update"))
    await bot.command("mini", user=user)
    view = (await fake.wait_for("views.open", n_open + 1))[-1].args["view"]
    await bot.click(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"], user=user)
    view = (await fake.wait_for("views.update", n_upd + 1))[-1].args["view"]
    view = (await bot.submit(view["private_metadata"], "asked", user=user)).json()["view"]
    await bot.click(A.CONTINUE, buttons(view)[A.CONTINUE], user=user)
    view = (await fake.wait_for("views.update", n_upd + 2))[-1].args["view"]
    await bot.click(f"{A.CHOOSE}:{last}", buttons(view)[f"{A.CHOOSE}:{last}"], user=user)
    view = (await fake.wait_for("views.update", n_upd + 3))[-1].args["view"]
    assert "Refuse and verify" in str(view) or "Report the disclosure" in str(view)


def asks(fake: FakeSlack, user: str) -> list[Any]:
    """Follow-up DMs `user` got (the DM has the 'Answer' button)."""
    return [
        c
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == user and RB.OPEN in json.dumps(c.args.get("blocks"))
    ]


def pending(bot: SlackBot) -> int:
    with bot.services.db.read() as s:
        return int(s.execute(text("SELECT count(*) FROM outbox WHERE status='pending'")).scalar())


def failed(bot: SlackBot) -> int:
    with bot.services.db.read() as s:
        q = "SELECT count(*) FROM outbox WHERE status='pending' AND last_error IS NOT NULL"
        return int(s.execute(text(q)).scalar())


async def settle(*bots: SlackBot) -> None:
    """Every queued outbox row delivered (so 'nothing more was sent' means something)."""
    await eventually(lambda: all(pending(b) == 0 for b in bots))


def dm_click(fake: FakeSlack, message: Any, action_id: str, user: str) -> str:
    """A click on a button of a DM message, as Slack sends it."""
    value = next(
        e["value"]
        for b in message.args["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == action_id
    )
    return interactive_body(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T1"},
            "team": {"id": "T1"},
            "channel": {"id": f"D{user}"},
            "container": {"type": "message", "message_ts": "1"},
            "message": {"ts": "1"},
            "trigger_id": "trig-dm",
            "response_url": fake.url.replace("/api/", f"/response/{user}"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "value": value,
                    "block_id": "b",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
    )


def answer_submission(
    view: dict[str, Any], user: str, turned_out: str, same: str, learned: str | None
) -> str:
    values = {
        RB.TURNED_OUT_BLOCK: {
            "value": {"type": "radio_buttons", "selected_option": {"value": turned_out}}
        },
        RB.SAME_BLOCK: {"value": {"type": "radio_buttons", "selected_option": {"value": same}}},
        RB.LEARNED_BLOCK: {"value": {"type": "plain_text_input", "value": learned}},
    }
    return interactive_body(
        {
            "type": "view_submission",
            "user": {"id": user, "team_id": "T1"},
            "team": {"id": "T1"},
            "trigger_id": "trig-r",
            "view": {
                "id": "VREFLECT",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": values},
            },
        }
    )


def reflection_rows(services: Services) -> list[dict[str, Any]]:
    with services.db.read() as s:
        return [dict(r._mapping) for r in s.execute(text("SELECT * FROM reflections"))]


async def test_one_follow_up_across_instances_restarts_and_downtime(
    fake: FakeSlack, db_url: str
) -> None:
    clock = FakeClock(T0)
    a = await start_bot(db_url, fake, clock=clock, **FAST)
    b = await start_bot(db_url, fake, clock=clock, **FAST)  # a second instance, same database
    try:
        await walk(a, fake, "U1", SAFE)
        clock.now = T0 + timedelta(days=1)
        await walk(b, fake, "U2", LEAK)
        clock.now = T0 + timedelta(days=13, hours=23)
        assert a.services.reflection.tick() == 0 and b.services.reflection.tick() == 0
        clock.now = T0 + timedelta(days=14, minutes=1)
        queued = [bot.services.reflection.tick() for bot in (a, b, a, b)]
        assert sorted(queued) == [0, 0, 0, 1]  # U1's, by exactly one instance
        await eventually(lambda: len(asks(fake, "U1")) == 1)
        await settle(a, b)
        dm = asks(fake, "U1")[0].args
        assert "14 days ago" in json.dumps(dm["blocks"])
        assert "A caller asks about an account" in json.dumps(dm["blocks"])
    finally:
        await a.stop()
        await b.stop()
    # nothing runs while U2's follow-up comes due; a new instance catches up, once
    clock.now = T0 + timedelta(days=30)
    c = await start_bot(db_url, fake, clock=clock, **FAST)
    try:
        c.services.reflection.tick()
        c.services.reflection.tick()
        await eventually(lambda: len(asks(fake, "U2")) == 1)
        clock.now += timedelta(days=30)
        c.services.reflection.tick()
        await settle(c)
        rows = reflection_rows(c.services)
    finally:
        await c.stop()
    assert len(asks(fake, "U1")) == 1 and len(asks(fake, "U2")) == 1
    assert {r["status"] for r in rows} == {"asked"}
    assert all(r["address"] is None for r in rows)  # where it was sent is forgotten once sent


async def test_worse_offers_compliance_at_once_and_answers_are_pseudonymous(
    fake: FakeSlack, db_url: str
) -> None:
    clock = FakeClock(T0)
    bot = await start_bot(db_url, fake, clock=clock, **FAST)
    try:
        await walk(bot, fake, "U1", LEAK)  # an outcome whose report is required
        await walk(bot, fake, "U3", SAFE)  # an outcome that offered no report
        clock.now = T0 + timedelta(days=15)
        bot.services.reflection.tick()
        await eventually(lambda: len(asks(fake, "U1")) == 1 and len(asks(fake, "U3")) == 1)

        async def answer(user: str, turned_out: str, learned: str | None) -> dict[str, Any]:
            n = len(fake.of("views.open"))
            await bot.post(dm_click(fake, asks(fake, user)[0], RB.OPEN, user))
            view = (await fake.wait_for("views.open", n + 1))[-1].args["view"]
            assert view["callback_id"] == RB.VIEW
            r = await bot.post(answer_submission(view, user, turned_out, "no", learned))
            assert r.json()["response_action"] == "update"
            return dict(r.json()["view"])

        thanks = await answer("U1", "worse", "Ask for ID  first <!channel>")
        assert "tell compliance at once" in json.dumps(thanks)
        report = buttons(thanks)
        assert A.REPORT in report  # the outcome's own report, with its consultation
        n = len(fake.of("views.update"))
        await bot.click(A.REPORT, report[A.REPORT], user="U1", view_id="VREFLECT")
        opened = (await fake.wait_for("views.update", n + 1))[-1].args["view"]
        assert opened["callback_id"] == CB.REPORT_VIEW

        thanks = await answer("U3", "worse", None)
        assert TALK_COMPLIANCE in buttons(thanks)  # a report without the consultation
        thanks = await answer("U3", "better", None)  # changed their mind: no offer now
        assert buttons(thanks) == {}

        # someone else cannot answer U1's follow-up with U1's session id
        n = len(fake.of("views.open"))
        await bot.post(dm_click(fake, asks(fake, "U1")[0], RB.OPEN, "U9"))
        view = (await fake.wait_for("views.open", n + 1))[-1].args["view"]
        r = await bot.post(answer_submission(view, "U9", "better", "yes", "forged"))
        assert "Close" in json.dumps(r.json()) and "Thank you" not in json.dumps(r.json())
        rows = {r["turned_out"]: r for r in reflection_rows(bot.services)}
    finally:
        await bot.stop()
    assert set(rows) == {"worse", "better"}
    assert rows["worse"]["learned"] == "Ask for ID first <!channel>"  # one line, as typed
    assert rows["worse"]["same_again"] in (False, 0)
    dump = json.dumps([{k: str(v) for k, v in r.items()} for r in rows.values()])
    assert "U1" not in dump and "U3" not in dump and "forged" not in dump
    assert all(r["owner"].startswith("p:") for r in rows.values())


async def test_opted_out_and_purged_get_nothing(fake: FakeSlack, db_url: str) -> None:
    clock = FakeClock(T0)
    bot = await start_bot(db_url, fake, clock=clock, **FAST)
    try:
        # U6's consultation is purged by retention before its follow-up is due
        await walk(bot, fake, "U6", SAFE)
        clock.now = T0 + timedelta(days=5)
        gone = purge(
            bot.services.db, Retention(finished_consultations=timedelta(days=1)), clock.now
        )
        assert gone["finished consultations"] == 1
        # U4 opts out from App Home before anything was asked
        await walk(bot, fake, "U4", SAFE)
        await bot.event({"type": "app_home_opened", "user": "U4", "tab": "home"}, "EvH4")
        home = (await fake.wait_for("views.publish"))[-1].args["view"]
        assert RB.STOP in buttons(home)
        n = len(fake.of("views.open"))
        await bot.click(RB.STOP, buttons(home)[RB.STOP], user="U4", view_id="VH", view_type="home")
        notice = (await fake.wait_for("views.open", n + 1))[-1].args["view"]
        assert "will not ask you" in json.dumps(notice)
        # U7 reports anonymously: the consultation is unlinked, and its follow-up with it
        view = await walk_to_required(bot, fake, "U7")
        r = await bot.post(
            interactive_body(report_submission(view, "anonymous", user="U7", passphrase="x" * 10))
        )
        assert "ETH-" in r.body
        # U5 opts out from the first follow-up; a later consultation is never asked about
        await walk(bot, fake, "U5", SAFE)
        clock.now = T0 + timedelta(days=20)
        assert bot.services.reflection.tick() == 1  # U5's only
        await eventually(lambda: len(asks(fake, "U5")) == 1)
        r = await bot.post(dm_click(fake, asks(fake, "U5")[0], RB.STOP, "U5"))
        assert r.status == 200
        await eventually(
            lambda: "will not ask you" in json.dumps([c.args for c in fake.of("response_url")])
        )
        assert fake.of("response_url")[-1].args["replace_original"] is True
        clock.now = T0 + timedelta(days=21)
        await walk(bot, fake, "U5", LEAK)
        clock.now = T0 + timedelta(days=60)
        assert bot.services.reflection.tick() == 0
        await settle(bot)
        rows = reflection_rows(bot.services)
    finally:
        await bot.stop()
    assert asks(fake, "U4") == [] and asks(fake, "U6") == [] and asks(fake, "U7") == []
    assert len(asks(fake, "U5")) == 1
    assert sorted(r["status"] for r in rows) == ["asked", "skipped"]  # U5's first, U4's
    assert all(r["address"] is None for r in rows)


async def test_a_follow_up_is_not_repeated_after_a_crash_mid_delivery(
    fake: FakeSlack, sqlite_url: str
) -> None:
    """A claimant that died may have sent the DM: it is not sent again. A follow-up whose
    send failed with a Slack error is sent once Slack answers."""
    clock = FakeClock(T0)
    env = slack_env(sqlite_url, fake.url, ETHICSBOT_DISPATCHER="0")
    seeding = bootstrap(Settings.from_env(env), clock=clock)
    crashed = _finish(seeding, "slack:T1:UC1", SAFE)
    clock.now = T0 + timedelta(days=1)
    _finish(seeding, "slack:T1:UC2", SAFE)
    clock.now = T0 + timedelta(days=14, minutes=1)
    assert seeding.reflection.tick() == 1  # UC1's
    jobs = outbox.claim(seeding.db, "slack", clock.now, lease=timedelta(seconds=30))
    assert [j.payload["session_id"] for j in jobs] == [crashed]  # ...and then the process died
    clock.now = T0 + timedelta(days=15, minutes=2)
    assert seeding.reflection.tick() == 1  # UC2's
    fake.fail("chat.postMessage", 500, times=1)
    bot = await start_bot(sqlite_url, fake, clock=clock, **FAST)
    try:
        await eventually(lambda: failed(bot) == 1)
        clock.now += timedelta(minutes=5)  # past the back-off
        await eventually(lambda: len(fake.messages.get("UC2", [])) == 1)
        await settle(bot)
        rows = {r["owner"]: r for r in reflection_rows(bot.services)}
    finally:
        await bot.stop()
    assert "UC1" not in fake.messages and len(fake.messages["UC2"]) == 1
    assert sorted(r["status"] for r in rows.values()) == ["asked", "asked"]


def _finish(services: Services, identity: str, last: int) -> str:
    """A consultation of mini walked to its outcome through the service (seeding data)."""
    c = services.consult
    turn = c.start(identity, "mini", "en")
    sid = turn.state.id
    for kind, node, option in (
        ("choose", "who", 0),
        ("answer", "facts", -1),
        ("proceed", "note", -1),
        ("choose", "weigh", last),
    ):
        turn = c.act(identity, sid, Action(kind, node, turn.state.version, option=option))  # type: ignore[arg-type]
    assert turn.state.status == "finished"
    return sid


def test_trainers_see_groups_of_five_only(db_url: str) -> None:
    clock = FakeClock(T0)
    services = bootstrap(Settings.from_env(settings_env(db_url)), clock=clock)
    answers = {SAFE: 4, LEAK: 6}
    for last, n in answers.items():
        for i in range(n):
            identity = f"slack:T1:UA{last}{i}"
            sid = _finish(services, identity, last)
            clock.now += timedelta(days=15)
            services.reflection.tick()
            services.reflection.answer(
                identity,
                sid,
                turned_out="worse" if i == 0 else "as_expected",
                same_again=i % 2 == 0,
                learned=f"lesson {last}-{i}",
            )
            clock.now -= timedelta(days=15)
    env = {**os.environ, **settings_env(db_url)}

    def report(*extra: str) -> list[list[str]]:
        out = subprocess.run(
            [sys.executable, "-m", "bot.cli", "report", "reflection", "--format", "csv", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "UA" not in out
        return [line.split(",") for line in out.strip().splitlines()]

    plain = report()
    assert plain[0][:4] == ["tree", "outcome", "asked", "answered"] and "learned" not in plain[0]
    by_outcome = {r[1]: r for r in plain[1:]}
    assert by_outcome["safe"][3:] == ["fewer than 5"] * 6  # 4 answers: nothing shown
    assert by_outcome["leak"][3:] == ["6", "0", "5", "1", "3", "3"]
    full = {r[1]: r for r in report("--with-learned")[1:]}
    assert full["safe"][-1] == "fewer than 5"
    assert full["leak"][-1] == " | ".join(f"lesson 1-{i}" for i in range(6))
    with services.db.read() as s:
        audited = s.execute(
            text("SELECT count(*) FROM audit_log WHERE action='reflection.learned_read'")
        ).scalar()
    assert audited == 1


def test_trainers_switch_follow_ups_off_per_severity_and_tree(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    policy = content / "policies" / "reflection.yaml"
    policy.write_text("after_days: 7\noff_for_severities: [medium]\n", encoding="utf-8")
    clock = FakeClock(T0)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    services = bootstrap(Settings.from_env(settings_env(url, content)), clock=clock)
    _finish(services, "slack:T1:UX", LEAK)  # medium: off
    _finish(services, "slack:T1:UY", SAFE)  # low: due in 7 days
    _finish(services, "console:local", SAFE)  # the terminal demo: nobody to ask later
    rows = reflection_rows(services)
    assert [(r["outcome"], r["status"]) for r in rows] == [("safe", "scheduled")]
    clock.now = T0 + timedelta(days=7, minutes=1)
    policy.write_text("off_for_trees: [mini]\n", encoding="utf-8")  # switched off meanwhile
    os.utime(policy, (time.time() + 5, time.time() + 5))
    assert services.reflection.tick() == 0
    rows = reflection_rows(services)
    assert [(r["status"], r["address"]) for r in rows] == [("skipped", None)]
