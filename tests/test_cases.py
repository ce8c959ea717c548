"""The case desk through the real server: escalation, the channel card, officers' actions,
anonymity, and delivery that survives Slack failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.adapters.slack import actions as A
from bot.adapters.slack import case_blocks as CB
from bot.storage import audit
from tests.fakes.signing import interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import SlackBot, buttons, eventually, start_bot

FAST = {"ETHICSBOT_DISPATCH_INTERVAL": "0.05", "ETHICSBOT_OUTBOX_LEASE": "1"}


@pytest.fixture
async def bot(fake: FakeSlack, db_url: str) -> AsyncIterator[SlackBot]:
    """The real server on SQLite, and on PostgreSQL where one answers."""
    b = await start_bot(db_url, fake, **FAST)
    yield b
    await b.stop()


async def walk_to_required(
    bot: SlackBot, fake: FakeSlack, user: str, typed: str = "the caller asked for the balance"
) -> dict[str, Any]:
    """/ethics mini → someone else → typed facts → continue → tell them: a required report."""
    n_open, n_upd = len(fake.of("views.open")), len(fake.of("views.update"))
    await bot.command("mini", user=user)
    view = (await fake.wait_for("views.open", n_open + 1))[-1].args["view"]
    await bot.click(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"], user=user)
    view = (await fake.wait_for("views.update", n_upd + 1))[-1].args["view"]
    view = (await bot.submit(view["private_metadata"], typed, user=user)).json()["view"]
    await bot.click(A.CONTINUE, buttons(view)[A.CONTINUE], user=user)
    view = (await fake.wait_for("views.update", n_upd + 2))[-1].args["view"]
    await bot.click(f"{A.CHOOSE}:1", buttons(view)[f"{A.CHOOSE}:1"], user=user)
    view = (await fake.wait_for("views.update", n_upd + 3))[-1].args["view"]
    assert A.REPORT in buttons(view)
    await bot.click(A.REPORT, buttons(view)[A.REPORT], user=user)
    return (await fake.wait_for("views.update", n_upd + 4))[-1].args["view"]


def report_submission(
    view: dict[str, Any],
    mode: str,
    *,
    user: str,
    narrative: str = "",
    passphrase: str = "",
    exclude: list[str] | None = None,
) -> dict[str, Any]:
    values = {
        "mode": {"value": {"type": "radio_buttons", "selected_option": {"value": mode}}},
        "narrative": {"value": {"type": "plain_text_input", "value": narrative or None}},
        "exclude": {"value": {"type": "multi_users_select", "selected_users": exclude or []}},
        "passphrase": {"value": {"type": "plain_text_input", "value": passphrase or None}},
    }
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T1"},
        "team": {"id": "T1"},
        "trigger_id": "trig-r",
        "view": {
            "id": f"VREPORT{abs(hash(user)) % 10**6}",
            "type": "modal",
            "callback_id": CB.REPORT_VIEW,
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    }


def card_posts(fake: FakeSlack) -> list[Any]:
    return [
        c
        for c in fake.of("chat.postMessage")
        if c.args.get("channel") == "CCOMPLY" and not c.args.get("thread_ts")
    ]


def card_action(action_id: str, case_id: str, user: str, **extra: Any) -> str:
    action = {"type": "button", "action_id": action_id, "value": case_id, "block_id": "b"}
    action.update(extra)
    return interactive_body(
        {
            "type": "block_actions",
            "user": {"id": user},
            "team": {"id": "T1"},
            "trigger_id": f"trig-{user}",
            "channel": {"id": "CCOMPLY"},
            "container": {"type": "message", "channel_id": "CCOMPLY"},
            "message": {"ts": "1"},
            "actions": [action],
        }
    )


def modal_submit(callback_id: str, metadata: str, user: str, values: dict[str, Any]) -> str:
    return interactive_body(
        {
            "type": "view_submission",
            "user": {"id": user},
            "team": {"id": "T1"},
            "view": {
                "id": "VX",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": metadata,
                "state": {"values": values},
            },
        }
    )


async def test_required_escalation_reaches_compliance_once_and_is_handled(
    bot: SlackBot, fake: FakeSlack
) -> None:
    view = await walk_to_required(bot, fake, "U1")
    assert "Anonymous" in str(view) and "Slack itself records" in str(view)
    narrative = "My manager told me to <!channel> hide it"
    r = await bot.post(
        interactive_body(report_submission(view, "named", user="U1", narrative=narrative))
    )
    done = r.json()
    assert done["response_action"] == "update"
    assert "ETH-" in str(done["view"]) and "is recorded" in str(done["view"])
    await eventually(lambda: len(card_posts(fake)) == 1)
    (card,) = card_posts(fake)
    shown = str(card.args)
    assert "ETH-2026-0001" in shown or "ETH-" in shown
    for secret in ("hide it", "U1", "balance", "Someone else", "Tell them"):
        assert secret not in shown, secret
    case_id = buttons(card.args)[CB.CASE_ACK]

    # a non-officer's click is refused, audited, and changes nothing
    await bot.post(card_action(CB.CASE_ACK, case_id, "U1"))
    await eventually(lambda: len(fake.of("chat.postEphemeral")) == 1)
    assert "Only compliance officers" in fake.of("chat.postEphemeral")[0].args["text"]
    # officers acknowledge, assign, ask, note and close
    await bot.post(card_action(CB.CASE_ACK, case_id, "UOFFICER1"))
    await eventually(lambda: len(fake.of("chat.update")) == 1)
    assert "acknowledged" in str(fake.of("chat.update")[-1].args["blocks"])
    await bot.post(
        card_action(
            CB.CASE_ASSIGN,
            case_id,
            "UOFFICER1",
            selected_user="UOFFICER2",
            value=None,
            block_id=f"assign:{case_id}",
        )
    )
    await eventually(lambda: len(fake.of("chat.update")) == 2)
    assert "<@UOFFICER2>" in str(fake.of("chat.update")[-1].args["blocks"])
    await bot.post(card_action(CB.CASE_ASK, case_id, "UOFFICER2"))
    ask_modal = (await fake.wait_for("views.open", 2))[-1].args["view"]
    assert ask_modal["callback_id"] == CB.CASE_TEXT_VIEW
    r = await bot.post(
        modal_submit(
            CB.CASE_TEXT_VIEW,
            ask_modal["private_metadata"],
            "UOFFICER2",
            {"text": {"value": {"value": "When did this happen?"}}},
        )
    )
    assert r.status == 200
    await eventually(
        lambda: any(c.args.get("channel") == "U1" for c in fake.of("chat.postMessage"))
    )
    dm = [c for c in fake.of("chat.postMessage") if c.args.get("channel") == "U1"][-1]
    assert "When did this happen?" in str(dm.args["blocks"])
    await bot.post(card_action(CB.CASE_VIEW, case_id, "UOFFICER2"))
    details = (await fake.wait_for("views.open", 3))[-1].args["view"]
    assert "&lt;!channel&gt; hide it" in str(details) and "<@U1>" in str(details)
    await bot.post(card_action(CB.CASE_CLOSE, case_id, "UOFFICER2"))
    close_modal = (await fake.wait_for("views.open", 4))[-1].args["view"]
    await bot.post(
        modal_submit(
            CB.CASE_CLOSE_VIEW,
            close_modal["private_metadata"],
            "UOFFICER2",
            {
                "outcome": {"value": {"selected_option": {"value": "advice_given"}}},
                "text": {"value": {"value": "Coached the team on disclosure."}},
            },
        )
    )
    await eventually(lambda: "closed" in str(fake.of("chat.update")[-1].args["blocks"]))
    assert len(card_posts(fake)) == 1
    with bot.services.db.tx() as s:
        kinds = s.execute(text("SELECT kind FROM case_events ORDER BY id")).scalars().all()
        verdict = audit.verify(s)
        refused = (
            s.execute(text("SELECT action FROM audit_log WHERE result = 'refused'")).scalars().all()
        )
    assert kinds == ["created", "acknowledge", "assign", "ask", "view", "close"]
    assert verdict.ok and refused == ["case.acknowledge"]


async def test_anonymous_report_leaves_no_trace_of_the_reporter(
    fake: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    db_file = tmp_path / "anon.db"
    bot = await start_bot(f"sqlite:///{db_file}", fake, **FAST)
    try:
        view = await walk_to_required(bot, fake, "UANON42")
        before = len(fake.calls)
        r = await bot.post(
            interactive_body(
                report_submission(
                    view,
                    "anonymous",
                    user="UANON42",
                    narrative="seen at the counter",
                    passphrase="correct horse battery",
                )
            )
        )
        shown = str(r.json()["view"])
        receipt = shown.split("*R-")[1].split("*")[0]
        await eventually(lambda: len(card_posts(fake)) == 1)
        # compliance asks; the reporter reads and answers with receipt + passphrase
        case_id = buttons(card_posts(fake)[0].args)[CB.CASE_ACK]
        await bot.post(card_action(CB.CASE_ASK, case_id, "UOFFICER1"))
        modal = (await fake.wait_for("views.open", 2))[-1].args["view"]
        await bot.post(
            modal_submit(
                CB.CASE_TEXT_VIEW,
                modal["private_metadata"],
                "UOFFICER1",
                {"text": {"value": {"value": "Which day was it?"}}},
            )
        )
        login = await bot.post(
            modal_submit(
                CB.STATUS_VIEW,
                "",
                "UANON42",
                {
                    "receipt": {"value": {"value": f"R-{receipt}"}},
                    "passphrase": {"value": {"value": "correct horse battery"}},
                },
            )
        )
        status = login.json()["view"]
        assert "Which day was it?" in str(status)
        answered = await bot.post(
            modal_submit(
                CB.ANSWER_VIEW,
                status["private_metadata"],
                "UANON42",
                {"answer": {"value": {"value": "Monday"}}},
            )
        )
        assert "Monday" in str(answered.json()["view"])
        wrong = await bot.post(
            modal_submit(
                CB.STATUS_VIEW,
                "",
                "UANON42",
                {
                    "receipt": {"value": {"value": f"R-{receipt}"}},
                    "passphrase": {"value": {"value": "wrong guess!"}},
                },
            )
        )
        assert "do not match" in str(wrong.json())
    finally:
        await bot.stop()
    after = fake.calls[before:]
    assert after and all("UANON42" not in str(c.args) for c in after)
    for f in tmp_path.glob("anon.db*"):  # the database file, its WAL and shared memory
        assert b"UANON42" not in f.read_bytes(), f.name
    assert "UANON42" not in caplog.text
    assert "seen at the counter" not in caplog.text


async def test_a_slack_outage_delays_the_card_then_delivers_it_once(
    bot: SlackBot, fake: FakeSlack
) -> None:
    fake.fail("chat.postMessage", 429, times=1, retry_after=1, error="ratelimited")
    view = await walk_to_required(bot, fake, "U5")
    await bot.post(interactive_body(report_submission(view, "confidential", user="U5")))
    await eventually(lambda: len(card_posts(fake)) == 1, timeout=20)
    failed = [c for c in fake.calls if c.method == "chat.postMessage!failed"]
    assert len(failed) == 1

    def card_row() -> Any:
        with bot.services.db.tx() as s:
            return s.execute(
                text("SELECT attempts, status, last_error FROM outbox WHERE kind = 'case_card'")
            ).one()

    await eventually(lambda: card_row()[1] == "sent")  # marked just after Slack accepted it
    row = card_row()
    assert row[0] == 2 and "429" in row[2]
    # server errors: backed off and retried, never dropped, never doubled
    fake.fail("chat.postMessage", 500, times=2)
    view = await walk_to_required(bot, fake, "U6")
    await bot.post(interactive_body(report_submission(view, "named", user="U6")))
    await eventually(lambda: len(card_posts(fake)) == 2, timeout=30)
    assert len([c for c in fake.calls if c.method == "chat.postMessage!failed"]) == 3


async def test_excluded_officer_cannot_see_or_act(bot: SlackBot, fake: FakeSlack) -> None:
    view = await walk_to_required(bot, fake, "U7")
    await bot.post(
        interactive_body(report_submission(view, "named", user="U7", exclude=["UOFFICER2"]))
    )
    await eventually(lambda: len(card_posts(fake)) == 1)
    case_id = buttons(card_posts(fake)[0].args)[CB.CASE_ACK]
    await bot.post(card_action(CB.CASE_VIEW, case_id, "UOFFICER2"))
    await eventually(lambda: len(fake.of("chat.postEphemeral")) == 1)
    assert "excluded" in fake.of("chat.postEphemeral")[0].args["text"]
    with bot.services.db.tx() as s:
        assert s.execute(text("SELECT count(*) FROM case_events WHERE kind = 'view'")).scalar() == 0


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def test_reminders_repeat_until_acknowledged(fake: FakeSlack, sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    bot = await start_bot(sqlite_url, fake, clock=clock, **FAST)
    try:
        view = await walk_to_required(bot, fake, "U8")  # medium severity: 3-day target
        await bot.post(interactive_body(report_submission(view, "named", user="U8")))
        await eventually(lambda: len(card_posts(fake)) == 1)
        case_id = buttons(card_posts(fake)[0].args)[CB.CASE_ACK]
        await bot.post(card_action(CB.CASE_ASSIGN_ME, case_id, "UOFFICER1"))
        await eventually(lambda: len(fake.of("chat.update")) == 1)

        def reminders() -> list[Any]:
            return [
                c
                for c in fake.of("chat.postMessage")
                if "Reminder" in str(c.args) or "OVERDUE" in str(c.args)
            ]

        cases = bot.services.cases
        # assigned means acknowledged: the feedback clock (3 months) runs, with its points
        clock.now += timedelta(days=50)
        assert cases.remind() == 1
        await eventually(lambda: len(reminders()) == 2)  # thread + assignee DM
        assert cases.remind() == 0  # the same point never goes out twice
        clock.now += timedelta(days=45)  # past the deadline (3 calendar months) by 3 days
        assert cases.remind() == 1  # missed points are caught up in one reminder, not five
        clock.now += timedelta(days=1)
        assert cases.remind() == 1  # and again every day until the clock stops
        await eventually(lambda: len(reminders()) == 6)
        thread = [c for c in reminders() if c.args.get("thread_ts")]
        dms = [c for c in reminders() if c.args.get("channel") == "UOFFICER1"]
        assert len(thread) == len(dms) == 3
        assert "OVERDUE" in str(thread[-1].args)
    finally:
        await bot.stop()


async def test_reminders_reach_every_open_case_however_many_there_are(
    fake: FakeSlack, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reminder scan reads open cases a chunk at a time (bot/cases/service.py
    REMIND_CHUNK, made 2 here so three cases span two chunks): every case still gets its
    reminder, once."""
    from bot.cases import service as case_service

    monkeypatch.setattr(case_service, "REMIND_CHUNK", 2)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    bot = await start_bot(sqlite_url, fake, clock=clock, **FAST)
    try:
        for n, user in enumerate(("U7", "U8", "U9"), start=1):
            view = await walk_to_required(bot, fake, user)  # medium: acknowledge in 3 days
            await bot.post(interactive_body(report_submission(view, "named", user=user)))
            await eventually(lambda n=n: len(card_posts(fake)) == n)
        cases = bot.services.cases
        assert cases.remind() == 0  # nothing due yet
        clock.now += timedelta(days=2)  # past the first reminder point of every case
        assert cases.remind() == 3
        assert cases.remind() == 0  # and each only once
    finally:
        await bot.stop()


async def test_report_command_rate_limit_and_compliance_home(
    bot: SlackBot, fake: FakeSlack
) -> None:
    await bot.command("report", user="U9")
    view = (await fake.wait_for("views.open"))[-1].args["view"]
    assert view["callback_id"] == CB.REPORT_VIEW and "topic" in str(view)
    for i in range(6):
        sub = report_submission(view, "named", user="U9", narrative=f"report {i}")
        sub["view"]["id"] = f"VR{i}"
        sub["view"]["state"]["values"]["topic"] = {
            "value": {"type": "static_select", "selected_option": {"value": "honesty"}}
        }
        r = await bot.post(interactive_body(sub))
        if i < 5:
            assert r.json()["response_action"] == "update"
        else:
            assert "several reports in the last hour" in str(r.json()["errors"])
    await eventually(lambda: len(card_posts(fake)) == 5)
    ev = {"type": "app_home_opened", "user": "UOFFICER1", "channel": "D1", "tab": "home"}
    await bot.event(ev, "EvHome")
    home = (await fake.wait_for("views.publish"))[-1].args["view"]
    shown = str(home)
    assert "Compliance queue" in shown and shown.count("ETH-") == 5
    assert "honesty: 5" in shown
    ev2 = {"type": "app_home_opened", "user": "U9", "channel": "D2", "tab": "home"}
    await bot.event(ev2, "EvHome2")
    await fake.wait_for("views.publish", 2)
    assert "Compliance queue" not in str(fake.of("views.publish")[-1].args["view"])


def test_cases_export_keeps_identities_out(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from bot.bootstrap import bootstrap
    from bot.config import Settings
    from tests.conftest import settings_env

    url = f"sqlite:///{tmp_path / 'e.db'}"
    services = bootstrap(Settings.from_env(settings_env(url)))
    services.cases.escalate(
        reporter_identity="slack:T1:UNAMED",
        mode="named",
        record=None,
        topic="honesty",
        session_id=None,
        narrative="private words",
    )
    services.cases.escalate(
        reporter_identity="slack:T1:UANON",
        mode="anonymous",
        record=None,
        topic="confidentiality",
        session_id=None,
        passphrase="longenough",
    )
    env = {**os.environ, **settings_env(url)}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "cases", "export", "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("ref,mode,topic,severity,status") and len(lines) == 3
    assert "UNAMED" not in out and "UANON" not in out and "private words" not in out
    js = subprocess.run(
        [sys.executable, "-m", "bot.cli", "cases", "export", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert '"by_topic"' in js and "UNAMED" not in js


def test_confidential_identity_and_restricted_reopen(tmp_path: Path) -> None:
    """Confidential: only the assignee sees who reported, others after the reporter's own
    consent. Reopening a closed case is for compliance leads only (refused and audited)."""
    from bot.bootstrap import bootstrap
    from bot.config import Settings
    from bot.service import Refused
    from tests.conftest import settings_env

    env = settings_env(
        f"sqlite:///{tmp_path / 'c.db'}",
        COMPLIANCE_SLACK_USERS="UA,UB",
        COMPLIANCE_LEAD_SLACK_USERS="UB",
    )
    s = bootstrap(Settings.from_env(env))
    r = s.cases.escalate(
        reporter_identity="slack:T1:URep",
        mode="confidential",
        record=None,
        topic="honesty",
        session_id=None,
        narrative="facts",
    )
    s.cases.act(r.case_id, "slack:UA", "assign", assignee="slack:UA")
    assert s.cases.view(r.case_id, "slack:UA").reporter == "slack:T1:URep"
    assert s.cases.view(r.case_id, "slack:UB").reporter is None
    with pytest.raises(Refused):
        s.cases.consent(r.case_id, "slack:T1:USomeoneElse")
    s.cases.consent(r.case_id, "slack:T1:URep")
    assert s.cases.view(r.case_id, "slack:UB").reporter == "slack:T1:URep"
    s.cases.act(r.case_id, "slack:UA", "close", outcome="substantiated", text="coached")
    with pytest.raises(Refused) as refused:
        s.cases.act(r.case_id, "slack:UA", "reopen", text="new facts")
    assert refused.value.key == "not_officer"
    assert s.cases.act(r.case_id, "slack:UB", "reopen", text="new facts").status == "investigating"
    with s.db.tx() as tx:
        rows = tx.execute(
            text("SELECT action, result FROM audit_log WHERE action = 'case.reopen' ORDER BY seq")
        ).all()
    assert [tuple(x) for x in rows] == [("case.reopen", "refused"), ("case.reopen", "ok")]
