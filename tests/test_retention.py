"""`ethicsbot purge`: what retention.yaml no longer keeps is gone, from the file and its WAL,
and the audit chain still verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.core.policy import Retention
from bot.retention import purge
from bot.service import Action
from bot.storage import audit
from tests.conftest import settings_env
from tests.test_cases import FakeClock


def test_purge_deletes_old_records_and_keeps_the_chain(tmp_path: Path) -> None:
    db_file = tmp_path / "r.db"
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    s = bootstrap(
        Settings.from_env(
            settings_env(
                f"sqlite:///{db_file}", TRAINER_SLACK_USERS="UT", COMPLIANCE_SLACK_USERS="UO"
            )
        ),
        clock=clock,
    )
    typed = "the caller said his name was Zhang Wei"
    old = s.consult.start("slack:T:U1", "mini", "en")
    for act in (
        Action("choose", "who", 1, option=1),
        Action("answer", "facts", 2, text=typed),
        Action("proceed", "note", 3),
        Action("choose", "weigh", 4, option=0),
    ):
        s.consult.act("slack:T:U1", old.state.id, act)
    s.consult.start("slack:T:U1", "mini", "en")  # left unfinished
    receipt = s.cases.escalate(
        reporter_identity="slack:T:U1",
        mode="named",
        record=None,
        topic="honesty",
        session_id=None,
        narrative="report words",
    )
    s.cases.act(receipt.case_id, "slack:UO", "close", outcome="advice_given", text="done")
    s.exercises.schedule(
        "slack:UT",
        platform="slack",
        channel="C1",
        kind="once",
        exercise_id="ex-mini-1",
        post="2026-01-05T08:00",
        reveal="2026-01-06T08:00",
        tz="UTC",
    )
    s.exercises.tick()
    with s.db.tx() as tx:
        post_id = tx.execute(text("SELECT id FROM exercise_posts")).scalar_one()
    s.exercises.mark(post_id, "posted", {"channel": "C1", "ts": "1"})
    for i in range(6):
        s.exercises.answer(post_id, f"slack:T:V{i}", "b")
    clock.now += timedelta(days=2)
    s.exercises.mark(post_id, "revealed")
    fresh = s.consult.start("slack:T:U2", "mini", "en")  # young: must survive

    clock.now = datetime(2032, 1, 1, tzinfo=UTC)
    recent = s.consult.start("slack:T:U3", "mini", "en")
    done = purge(s.db, Retention(), clock.now - timedelta(days=10))
    assert done == {
        "unfinished consultations": 2,
        "finished consultations": 1,
        "closed cases": 1,
        "exercise answers": 6,
    }
    with s.db.tx() as tx:
        left = set(tx.execute(text("SELECT id FROM sessions")).scalars())
        assert audit.verify(tx).ok
        assert tx.execute(text("SELECT count(*) FROM cases")).scalar() == 0
    assert left == {recent.state.id} and fresh.state.id not in left
    (result,) = s.exercises.results()
    assert result["answers"] == 6 and result["distribution"] == {"a": 0, "b": 6, "c": 0}
    s.db.dispose()
    for f in tmp_path.glob("r.db*"):
        data = f.read_bytes()
        assert typed.encode() not in data and b"report words" not in data, f.name


def test_purge_command_runs(tmp_path: Path) -> None:
    env = {**os.environ, **settings_env(f"sqlite:///{tmp_path / 'c.db'}")}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "purge"],
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert "closed cases" in out and "exercise answers" in out
