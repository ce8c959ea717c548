"""Storage through the service on SQLite and PostgreSQL: sessions, pinning, audit chain."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.service import Action, Refused
from bot.storage import audit
from bot.storage.errors import StorageUnavailable
from tests.conftest import FIXTURE_CONTENT, settings_env


def _services(db_url: str, content: Path = FIXTURE_CONTENT):
    return bootstrap(Settings.from_env(settings_env(db_url, content)))


def test_migrations_apply_twice_and_health_answers(db_url: str) -> None:
    s = _services(db_url)
    s2 = _services(db_url)  # a second instance starting on the same database
    assert s.db.ping() and s2.db.ping()
    with s.db.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() is not None


def test_a_consultation_survives_a_restart(db_url: str) -> None:
    first = _services(db_url)
    turn = first.consult.start("slack:T1:U1", "mini", "en")
    turn = first.consult.act("slack:T1:U1", turn.state.id, Action("choose", "who", 1, option=1))
    first.db.dispose()
    second = _services(db_url)  # "restart": a new process would see exactly this
    view = second.consult.view("slack:T1:U1", turn.state.id)
    assert view.state.node == "facts" and view.state.version == 2
    assert [s.id for s in second.consult.sessions("slack:T1:U1", "active")] == [turn.state.id]


def test_another_users_click_is_refused_and_audited(db_url: str) -> None:
    s = _services(db_url)
    turn = s.consult.start("slack:T1:U1", "mini", "en")
    with pytest.raises(Refused) as err:
        s.consult.act("slack:T1:U2", turn.state.id, Action("choose", "who", 1, option=0))
    assert err.value.key == "not_yours"
    assert s.consult.view("slack:T1:U1", turn.state.id).state.version == 1
    with s.db.tx() as tx:
        verdict = audit.verify(tx)
        rows = tx.execute(text("SELECT action, subject, result FROM audit_log")).all()
    assert verdict.ok and verdict.entries == 1
    assert [tuple(r) for r in rows] == [("session.choose", f"session:{turn.state.id}", "refused")]


def test_the_same_click_applied_twice_changes_state_once(db_url: str) -> None:
    a, b = _services(db_url), _services(db_url)  # two instances, one database
    turn = a.consult.start("slack:T1:U1", "mini", "en")
    click = Action("choose", "who", 1, option=0)
    a.consult.act("slack:T1:U1", turn.state.id, click)
    with pytest.raises(Refused) as err:
        b.consult.act("slack:T1:U1", turn.state.id, click)
    assert err.value.key == "stale"
    assert b.consult.view("slack:T1:U1", turn.state.id).state.version == 2


def test_a_session_finishes_on_the_tree_version_it_started(db_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    s = _services(db_url, content)
    turn = s.consult.start("u", "mini", "en")
    tree_file = content / "dilemmas" / "mini.yaml"
    new = (
        tree_file.read_text()
        .replace("\nversion: 1", "\nversion: 2")
        .replace(
            '"Refuse and verify", zh: "拒绝并核实"}',
            '"Refuse, then verify", zh: "先拒绝再核实"}',
            1,
        )
    )
    tree_file.write_text(new)
    assert s.content.maybe_reload(force=True)
    assert s.content.trees["mini"].version == 2
    turn = s.consult.act("u", turn.state.id, Action("choose", "who", 1, option=0))
    turn = s.consult.act("u", turn.state.id, Action("answer", "facts", 2, text=""))
    turn = s.consult.act("u", turn.state.id, Action("proceed", "note", 3))
    labels = [label for _, label in turn.replies[-1].options]
    assert labels[0] == "Refuse and verify"  # still version 1 for this session
    fresh = s.consult.start("u", "mini", "en")
    assert fresh.state.tree_version == 2


def test_a_broken_edit_keeps_the_last_good_tree(db_url: str, tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    s = _services(db_url, content)
    tree_file = content / "dilemmas" / "mini.yaml"
    tree_file.write_text(tree_file.read_text().replace("next: safe", "next: nowhere"))
    s.content.maybe_reload(force=True)
    assert s.content.trees["mini"].version == 1  # still served
    assert [str(p).split(": ", 1)[1] for p in s.content.problems] == [
        "weigh: 'next' points to unknown node 'nowhere'",
        "safe: unreachable from start node 'who'",
    ]
    # an edit without a version bump is refused too: the registered content stays
    tree_file.write_text(
        (FIXTURE_CONTENT / "dilemmas" / "mini.yaml")
        .read_text()
        .replace("Who is asking?", "Who is calling?")
    )
    s.content.maybe_reload(force=True)
    assert s.content.trees["mini"].nodes["who"].text.en == "Who is asking?"
    assert "bump `version`" in str(s.content.problems[-1])


def test_audit_chain_detects_edit_delete_and_reorder(db_url: str) -> None:
    s = _services(db_url)
    from datetime import UTC, datetime

    with s.db.tx() as tx:
        for i in range(5):
            audit.append(
                tx,
                at=datetime(2026, 1, 1, tzinfo=UTC),
                action="case.ack",
                subject=f"case:{i}",
                payload={"actor": "U1"},
            )
    with s.db.tx() as tx:
        good = audit.verify(tx)
    assert good.ok and good.entries == 5 and len(good.head) == 64
    with s.db.tx() as tx:  # retention blanks a payload: chain still holds
        tx.execute(text("UPDATE audit_log SET payload = NULL WHERE seq = 2"))
    with s.db.tx() as tx:
        assert audit.verify(tx).ok
    with s.db.tx() as tx:
        tx.execute(text("UPDATE audit_log SET action = 'case.close' WHERE seq = 3"))
    with s.db.tx() as tx:
        v = audit.verify(tx)
    assert (v.ok, v.first_bad) == (False, 3)
    with s.db.tx() as tx:
        tx.execute(text("UPDATE audit_log SET action = 'case.ack' WHERE seq = 3"))
        tx.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    with s.db.tx() as tx:
        v = audit.verify(tx)
    assert (v.ok, v.first_bad) == (False, 4)
    with s.db.tx() as tx:  # swap two rows' positions
        tx.execute(text("UPDATE audit_log SET seq = 99 WHERE seq = 1"))
        tx.execute(text("UPDATE audit_log SET seq = 1 WHERE seq = 2"))
        tx.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 99"))
    with s.db.tx() as tx:
        v = audit.verify(tx)
    assert (v.ok, v.first_bad) == (False, 1)


def test_audit_verify_command_reports_tampering(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    url = f"sqlite:///{tmp_path / 'a.db'}"
    s = _services(url)
    with s.db.tx() as tx:
        for i in range(3):
            audit.append(
                tx, at=datetime(2026, 1, 1, tzinfo=UTC), action="case.note", subject=f"case:{i}"
            )
    env = {**os.environ, "DATABASE_URL": url}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = verify()
    assert good.returncode == 0 and good.stdout.startswith("ok: 3 entries, head ")
    with s.db.tx() as tx:
        tx.execute(text("UPDATE audit_log SET subject = 'case:9' WHERE seq = 2"))
    bad = verify()
    assert bad.returncode == 1 and "BROKEN at entry 2" in bad.stdout


def test_a_delivery_key_is_new_exactly_once(db_url: str) -> None:
    """Slack event retries are recognised on every database (PostgreSQL reports no rowcount
    for these inserts, which once made every event look like a retry)."""
    s = _services(db_url)
    assert [s.consult.first_delivery("slack:Ev1") for _ in range(3)] == [True, False, False]
    assert s.consult.first_delivery("slack:Ev2") is True


def test_an_older_database_keeps_its_cases_with_platform_qualified_identities(
    db_url: str,
) -> None:
    """A bank upgrading from a Slack-only release: its open case keeps its card location
    (now Slack's) and its officers (now `slack:…`), so the card is still updated in place
    and the assignee still passes the role check."""
    from alembic import command

    from bot.storage.db import _alembic_config, make_engine

    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        conn.execute(
            text(
                "INSERT INTO cases (id, ref, mode, topic, severity, escalation, facts, status,"
                " reporter, excluded, destination, created_at, ack_due, assignee, card, version,"
                " consent, failed_logins)"
                " VALUES ('c1', 'ETH-2026-0001', 'named', 'honesty', 'high', 'offered', '{}',"
                " 'investigating', 'slack:T1:UR', '[\"UX\"]', 'C1', :t, :t, 'UA',"
                ' \'{"channel": "CDESK", "ts": "1.2"}\', 3, false, 0)'
            ),
            {"t": "2026-11-02 10:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO case_events (case_id, at, kind, actor, body)"
                " VALUES ('c1', :t, 'assign', 'UA', 'UA'), ('c1', :t, 'created', NULL, 'x')"
            ),
            {"t": "2026-11-02 10:00:00"},
        )
    engine.dispose()
    s = bootstrap(Settings.from_env(settings_env(db_url, COMPLIANCE_SLACK_USERS="UA,UX")))
    assert s.cases.card_location("c1", "slack") == {"channel": "CDESK", "ts": "1.2"}
    assert s.cases.card_location("c1", "teams") is None
    view = s.cases.view("c1", "slack:UA")
    assert view.assignee == "slack:UA"
    assert [e[2] for e in view.timeline][:2] == ["slack:UA", None]
    with pytest.raises(Refused) as excluded:
        s.cases.view("c1", "slack:UX")  # the reporter's exclusion survives the upgrade
    assert excluded.value.key == "excluded"
    s.cases.set_card("c1", "teams", {"conversation": "19:desk", "activity": "a1"})
    assert s.cases.card("c1").card == {
        "slack": {"channel": "CDESK", "ts": "1.2"},
        "teams": {"conversation": "19:desk", "activity": "a1"},
    }


def test_a_role_check_without_a_platform_fails_loudly(db_url: str) -> None:
    """A caller that forgets to qualify an officer id must not be checked against Slack's
    list (a Teams id that happened to match would pass); it is a programming error."""
    s = bootstrap(Settings.from_env(settings_env(db_url, COMPLIANCE_SLACK_USERS="UA")))
    assert s.roles.has("compliance_officer", "slack:UA")
    assert not s.roles.has("compliance_officer", "teams:UA")
    with pytest.raises(ValueError):
        s.roles.has("compliance_officer", "UA")


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # handed to the test, which asserts on it
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _holding_the_writer(
    s: object, key: str | None = None
) -> tuple[threading.Thread, list[object], threading.Event]:
    """A write transaction in another thread (a timer's, say) that holds this process's writer
    queue until the returned event is set; with `key`, it writes that seen-event row too.
    Returns once it holds the queue: (thread, its result, release)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> bool:
        with s.db.tx() as tx:  # type: ignore[attr-defined]
            if key is None:
                tx.execute(text("SELECT 1"))
            else:
                tx.execute(text("INSERT INTO seen_events (key, at) VALUES (:k, '2026-12-08')"),
                           {"k": key})
            holding.set()
            assert release.wait(10)
        return True

    thread, out = _in_thread(hold)
    assert holding.wait(10)
    return thread, out, release


def test_sqlite_writers_take_turns_while_readers_go_on(sqlite_url: str) -> None:
    """One process's write transactions queue for SQLite's single writer
    (`Database.writers`); reads never wait for them, and the queued write goes through once
    the first commits, nothing lost."""
    s = _services(sqlite_url)

    def second() -> bool:
        return s.consult.first_delivery("k2")

    a, a_out, release = _holding_the_writer(s, key="k1")
    reader, read_out = _in_thread(lambda: s.consult.sessions("slack:T1:U1", "active"))
    reader.join(10)
    assert read_out == [[]]  # answered while the writer holds its turn
    b, b_out = _in_thread(second)
    b.join(0.2)
    assert b.is_alive() and b_out == []  # queued behind the first, not failed
    release.set()
    a.join(10), b.join(10)
    assert a_out == [True] and b_out == [True]
    with s.db.read() as tx:
        keys = tx.execute(text("SELECT key FROM seen_events ORDER BY key")).scalars().all()
    assert keys == ["k1", "k2"]


def test_a_writer_kept_waiting_past_the_busy_timeout_is_told_locked(tmp_path: Path) -> None:
    """The writer queue keeps SQLite's promise: a write that cannot start within the busy
    timeout (`?timeout=`) fails with StorageUnavailable("locked"), so the person is told to
    try again in that time instead of waiting behind a stuck transaction for ever."""
    s = _services(f"sqlite:///{tmp_path / 'q.db'}?timeout=0.3")
    a, _, release = _holding_the_writer(s)
    b, b_out = _in_thread(lambda: s.consult.first_delivery("k3"))
    b.join(10)
    release.set()
    a.join(10)
    assert not b.is_alive()
    assert len(b_out) == 1 and isinstance(b_out[0], StorageUnavailable)
    assert b_out[0].kind == "locked"
    assert s.consult.first_delivery("k3") is True  # nothing of the refused write was kept


def _where_it_ran(s: object, fn: Callable[[], object]) -> tuple[object, str]:
    """`Database.run(fn)` from an event loop: fn's result and the thread it ran on."""
    seen: list[str] = []

    def recorded() -> object:
        seen.append(threading.current_thread().name)
        return fn()

    async def go() -> tuple[object, str]:
        loop_thread = threading.current_thread().name
        result = await s.db.run(recorded)  # type: ignore[attr-defined]
        return result, "loop" if seen[-1] == loop_thread else "worker"

    return asyncio.run(go())


def test_a_click_on_sqlite_runs_on_the_loop_and_lands_once(sqlite_url: str) -> None:
    """With nobody else writing, a click is applied inline (no thread hand-off: the cost
    `Database.run` removes) and its write is there, once."""
    s = _services(sqlite_url)
    turn = s.consult.start("slack:T1:U1", "mini", "en")
    after, where = _where_it_ran(
        s, lambda: s.consult.act("slack:T1:U1", turn.state.id, Action("choose", "who", 1, option=1))
    )
    assert where == "loop" and after.state.version == 2  # type: ignore[attr-defined]
    assert s.consult.view("slack:T1:U1", turn.state.id).state.version == 2
    assert s.db.writers is not None and s.db.writers.offloaded == 0


def test_a_write_behind_a_timers_write_waits_without_blocking_the_loop(
    sqlite_url: str,
) -> None:
    """While a timer's transaction holds this process's writer queue, a click awaits its
    turn: the event loop goes on serving meanwhile (here: the coroutine that ends the timer's
    transaction), and the click is then applied on the loop, exactly once."""
    s = _services(sqlite_url)
    turn = s.consult.start("slack:T1:U1", "mini", "en")
    a, a_out, release = _holding_the_writer(s, key="t1")
    ran_on: list[str] = []

    def click() -> object:
        ran_on.append(threading.current_thread().name)
        return s.consult.act("slack:T1:U1", turn.state.id, Action("choose", "who", 1, option=1))

    async def go() -> tuple[object, bool]:
        task = asyncio.ensure_future(s.db.run(click))
        await asyncio.sleep(0.2)  # returns only if the loop is not stuck inside the click
        waiting = not task.done()
        release.set()
        return await task, waiting

    after, waited = asyncio.run(go())
    a.join(10)
    assert a_out == [True] and waited
    assert ran_on[-1] == threading.main_thread().name  # redone on the loop, no thread hand-off
    assert after.state.version == 2  # type: ignore[attr-defined]
    assert s.db.writers is not None and s.db.writers.offloaded == 0
    view = s.consult.view("slack:T1:U1", turn.state.id)
    assert view.state.version == 2 and view.state.node == "facts"


def test_a_write_locked_by_another_process_does_not_stall_the_loop(sqlite_url: str) -> None:
    """Another process (the CLI, a second server on the file) holding SQLite's lock: the
    inline attempt's BEGIN does not wait in SQLite's busy handler on the event loop; the
    call goes to a worker thread and lands once the lock is free."""
    import sqlite3

    s = _services(sqlite_url)
    turn = s.consult.start("slack:T1:U1", "mini", "en")
    other = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    # long enough that the inline attempt surely meets the lock, even on a slow machine
    threading.Timer(1.0, other.rollback).start()
    try:
        after, where = _where_it_ran(
            s,
            lambda: s.consult.act(
                "slack:T1:U1", turn.state.id, Action("choose", "who", 1, option=1)
            ),
        )
    finally:
        other.close()
    assert where == "worker" and after.state.version == 2  # type: ignore[attr-defined]
    assert s.db.writers is not None and s.db.writers.offloaded == 1
    assert s.consult.view("slack:T1:U1", turn.state.id).state.version == 2


def test_a_service_catching_everything_cannot_hide_the_hand_off(sqlite_url: str) -> None:
    """`WouldWait` gets past a service's `except Exception`: the call is redone once the
    writer queue is free, rather than returning the handler's fallback as if it had run."""
    s = _services(sqlite_url)

    def careless() -> str:
        try:
            return "wrote" if s.consult.first_delivery("k9") else "seen"
        except Exception:
            return "swallowed"

    a, _, release = _holding_the_writer(s)
    threading.Timer(0.2, release.set).start()
    result, where = _where_it_ran(s, careless)
    a.join(10)
    assert (result, where) == ("wrote", "loop")
    assert s.consult.first_delivery("k9") is False  # written once, by the second try


def test_postgresql_calls_always_run_in_a_worker_thread(db_url: str) -> None:
    """PostgreSQL has network round trips: `Database.run` never runs them on the loop."""
    s = _services(db_url)
    turn = s.consult.start("slack:T1:U1", "mini", "en")
    _, where = _where_it_ran(s, lambda: s.consult.view("slack:T1:U1", turn.state.id))
    assert where == ("loop" if s.db.engine.dialect.name == "sqlite" else "worker")


def test_a_step_kept_waiting_past_the_busy_timeout_on_the_loop_is_told_locked(
    tmp_path: Path,
) -> None:
    """Awaiting the writer queue on the loop keeps the same promise as a thread's wait: past
    the busy timeout the step gets StorageUnavailable("locked") (the person is told to try
    again) and nothing of it is written."""
    s = _services(f"sqlite:///{tmp_path / 'q.db'}?timeout=0.3")
    a, _, release = _holding_the_writer(s)
    try:
        with pytest.raises(StorageUnavailable) as err:
            asyncio.run(s.db.run(s.consult.first_delivery, "k4"))
    finally:
        release.set()
        a.join(10)
    assert err.value.kind == "locked"
    assert s.db.writers is not None and s.db.writers.refused == 1
    assert s.consult.first_delivery("k4") is True  # nothing of the refused step was kept
