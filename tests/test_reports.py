"""Monthly compliance KPIs and exercise results: numbers from seeded rows, k >= 5
suppression, CJK glyph coverage of the bundled font, and the `report` CLI writing files."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fontTools.ttLib import TTFont

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.core.model import Exercise
from bot.reports import charts, stats
from bot.storage.db import Database, upgrade
from bot.storage.tables import AnswerRow, CaseEventRow, CaseRow, ExercisePostRow, SessionRow
from tests.conftest import FIXTURE_CONTENT, settings_env

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
NOV = stats.Month(2026, 11)
OUT = Path("/tmp/ethicsbot-charts")


def _case(s: Any, n: int, created: datetime, **kw: Any) -> str:
    cid = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "id": cid,
        "ref": f"EB-T-{n:04d}-{cid[:4]}",
        "mode": "named",
        "topic": "confidentiality",
        "severity": "high",
        "escalation": "compliance",
        "facts": "{}",
        "status": "new",
        "destination": "compliance",
        "created_at": created,
        "ack_due": created + timedelta(days=7),
    }
    fields.update(kw)
    s.add(CaseRow(**fields))
    return cid


def _session(s: Any, status: str, at: datetime) -> None:
    s.add(
        SessionRow(
            id=str(uuid.uuid4()),
            owner=None,
            tree_id="mini",
            tree_version=1,
            node="n",
            state_version=1,
            status=status,
            state="{}",
            context=None,
            created_at=at,
            updated_at=at,
        )
    )


def seed_cases(db: Database) -> None:
    """Ten November cases (see the expected figures in the tests), three in October, five
    old August ones that were acknowledged but never closed, and sessions."""
    acks = [1, 1, 2, 3, 8, 8, 9, 10, 12, None]
    closes = [5, 10, 15, 20, 25, None, None, None, None, None]
    with db.tx() as s:
        for i in range(10):
            created = datetime(2026, 11, 1 + i, 9, 0, tzinfo=UTC)
            ack = acks[i]
            close = closes[i]
            anonymous = i >= 5
            cid = _case(
                s,
                i,
                created,
                mode="anonymous" if anonymous else "named",
                topic="confidentiality" if i < 6 else "honesty",
                severity="high" if i < 5 else "medium",
                tree_id="mini" if i in (0, 1, 2, 9) else None,
                acknowledged_at=created + timedelta(days=ack) if ack is not None else None,
                closed_at=created + timedelta(days=close) if close is not None else None,
                status="closed" if close is not None else "new",
            )
            # reporters answering compliance: two anonymous cases (one twice), one named
            for _ in range({0: 1, 5: 1, 6: 2}.get(i, 0)):
                s.add(CaseEventRow(case_id=cid, at=created, kind="answer", actor=None, body="x"))
            s.add(CaseEventRow(case_id=cid, at=created, kind="created", actor=None, body=None))
        for i in range(3):
            created = datetime(2026, 10, 3 + i, tzinfo=UTC)
            _case(s, 100 + i, created, topic="honesty", acknowledged_at=created + timedelta(2))
        for i in range(5):
            created = datetime(2026, 8, 3 + i, tzinfo=UTC)
            _case(s, 200 + i, created, acknowledged_at=created + timedelta(days=1))
        for d in range(12):
            _session(s, "finished", datetime(2026, 11, 1 + d, 15, tzinfo=UTC))
        for d in range(3):
            _session(s, "active", datetime(2026, 11, 2 + d, tzinfo=UTC))
            _session(s, "finished", datetime(2026, 10, 2 + d, tzinfo=UTC))


def _exercise(name: str) -> Exercise:
    raw = (FIXTURE_CONTENT / "dilemmas" / "exercises" / f"{name}.yaml").read_text()
    return Exercise.model_validate(yaml.safe_load(raw))


def seed_exercises(db: Database) -> None:
    posts = [
        ("ex-mini-1", datetime(2026, 8, 3, 9, tzinfo=UTC), {"b": 9}, "revealed"),  # > 12 weeks
        ("ex-mini-1", datetime(2026, 10, 5, 9, tzinfo=UTC), {"a": 1, "b": 4, "c": 1}, "revealed"),
        ("ex-mini-2", datetime(2026, 11, 2, 9, tzinfo=UTC), {"a": 1, "b": 2}, "revealed"),
        ("ex-mini-3", datetime(2026, 11, 30, 9, tzinfo=UTC), None, "posted"),
    ]
    with db.tx() as s:
        for ex_id, slot, tally, status in posts:
            pid = str(uuid.uuid4())
            s.add(
                ExercisePostRow(
                    id=pid,
                    schedule_id="sch",
                    platform="slack",
                    slot=slot,
                    exercise_id=ex_id,
                    exercise=_exercise(ex_id).model_dump_json(),
                    channel="C1",
                    reveal_at=slot + timedelta(days=3),
                    status=status,
                    late=False,
                    posted_at=slot,
                    tally=json.dumps(tally) if tally is not None else None,
                )
            )
            if tally is None:  # still open: the live answers count
                for n, opt in enumerate("bbbac"):
                    s.add(AnswerRow(post_id=pid, voter=f"v{n}", option=opt, at=slot))


@pytest.fixture
def db(sqlite_url: str) -> Database:
    d = Database(sqlite_url)
    upgrade(d.engine)
    return d


def test_monthly_figures_from_seeded_cases(db: Database) -> None:
    seed_cases(db)
    r = stats.monthly(db, NOV, NOW)
    assert r["cases"] == 10
    # honesty has 4 cases and medium... has 5: a cell under 5 says "fewer than 5"
    assert r["by_topic"] == {"confidentiality": 6, "honesty": None}
    assert r["by_severity"] == {"high": 5, "medium": 5}
    # acknowledged after 1,1,2,3,8,8,9,10,12 days; one never, past its 7 days -> 6 missed
    assert r["acknowledge"] == {
        "legal_days": 7,
        "measured": 9,
        "median_days": 8,
        "p90_days": 12,
        "missed": 6,
    }
    # closed after 5..25 days; none is past its 3 months yet
    assert r["close"] == {
        "legal_months": 3,
        "measured": 5,
        "median_days": 15,
        "p90_days": 25,
        "missed": 0,
    }
    # 12 finished sessions + 1 anonymous escalation whose session was deleted; 4 escalated
    assert r["consultations"] == 13
    assert r["resolved_without_escalation"] == round(1 - 4 / 13, 3)
    # 5 anonymous cases, 2 with a reporter answer (a named reporter's answer doesn't count)
    assert r["anonymous_cases"] == 5
    assert r["anonymous_follow_up_rate"] == 0.4


def test_open_case_past_three_months_counts_as_missed(db: Database) -> None:
    seed_cases(db)
    aug = stats.monthly(db, stats.Month(2026, 8), NOW)
    assert aug["close"]["missed"] == 5  # acknowledged 4-8 Aug, feedback due 4-8 Nov
    assert aug["acknowledge"]["missed"] == 0
    assert (
        stats.monthly(db, stats.Month(2026, 8), datetime(2026, 11, 1, tzinfo=UTC))["close"][
            "missed"
        ]
        == 0
    )


def test_nothing_is_shown_for_a_month_under_five_cases(db: Database) -> None:
    seed_cases(db)
    r = stats.monthly(db, stats.Month(2026, 10), NOW)
    assert r["cases"] is None
    assert r["by_topic"] == {} and r["by_severity"] == {}
    # three acknowledged: "fewer than 5"; none closed: zero points at nobody and is shown
    for clock, measured in (("acknowledge", None), ("close", 0)):
        assert {k: r[clock][k] for k in ("measured", "median_days", "p90_days", "missed")} == {
            "measured": measured,
            "median_days": None,
            "p90_days": None,
            "missed": None,
        }
    assert r["consultations"] is None and r["resolved_without_escalation"] is None
    assert "fewer than 5" in charts.monthly_chart(r, "en").alt
    assert "少于 5" in charts.monthly_chart(r, "zh").alt


def test_exercise_results_last_twelve_weeks(db: Database, sqlite_url: str) -> None:
    seed_exercises(db)
    service = bootstrap(Settings.from_env(settings_env(sqlite_url))).exercises
    rows = stats.exercises(service, NOW)
    assert [(r["exercise"], r["answers"], r["recommended_share"]) for r in rows] == [
        ("ex-mini-1", 6, round(4 / 6, 3)),
        ("ex-mini-2", None, None),  # 3 answers: fewer than 5, no share
        ("ex-mini-3", 5, 0.6),
    ]


def test_reveal_chart_only_from_five_answers() -> None:
    ex = _exercise("ex-mini-1")
    assert charts.reveal_chart(ex, {"a": 1, "b": 3}) is None
    chart = charts.reveal_chart(ex, {"a": 1, "b": 3, "c": 1}, "zh")
    assert chart is not None and chart.png.startswith(b"\x89PNG")
    assert "拒绝并核实: 3 (60%) — 推荐答案" in chart.alt


def _required_chars(lang: str) -> set[str]:
    """Every character of every fixed label, plus exercise titles and option labels of the
    real content and the fixtures (what the reveal chart draws)."""
    chars: set[str] = set("0123456789%.,:;-+() ✓·；—ABCDE")
    for text in charts.TEXTS[lang].values():
        chars |= set(text.replace("{month}", "").replace("{n}", "").replace("{title}", ""))
    for folder in (ROOT / "dilemmas" / "exercises", FIXTURE_CONTENT / "dilemmas" / "exercises"):
        for f in folder.glob("*.yaml"):
            ex = Exercise.model_validate(yaml.safe_load(f.read_text()))
            chars |= set(ex.title.get(lang))
            for o in ex.options:
                chars |= set(o.label.get(lang))
    return chars - {"\n"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_label_glyph_is_in_the_bundled_font(lang: str) -> None:
    with TTFont(charts.font_path(), lazy=True) as font:
        cmap = font.getBestCmap()
    missing = sorted(c for c in _required_chars(lang) if ord(c) not in cmap)
    assert missing == []
    if lang == "zh":  # the check is not vacuous: it covers real CJK text
        assert {"合", "规", "报", "严", "绝"} <= _required_chars(lang)


def test_charts_render_in_both_languages_without_missing_glyphs(
    db: Database, sqlite_url: str
) -> None:
    seed_cases(db)
    seed_exercises(db)
    service = bootstrap(Settings.from_env(settings_env(sqlite_url))).exercises
    OUT.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        for lang in ("en", "zh"):
            m = charts.monthly_chart(stats.monthly(db, NOV, NOW), lang)
            e = charts.exercises_chart(stats.exercises(service, NOW), lang)
            rv = charts.reveal_chart(_exercise("ex-mini-1"), {"a": 1, "b": 4, "c": 1}, lang)
            assert rv is not None
            for name, chart in (("monthly", m), ("exercises", e), ("reveal", rv)):
                assert chart.png.startswith(b"\x89PNG\r\n\x1a\n") and len(chart.png) > 10_000
                assert chart.alt
                (OUT / f"{name}-{lang}.png").write_bytes(chart.png)
    assert (
        "confidentiality 6, honesty fewer than 5"
        in charts.monthly_chart(stats.monthly(db, NOV, NOW), "en").alt
    )


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(url), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_png_csv_and_json(db: Database, sqlite_url: str, tmp_path: Path) -> None:
    seed_cases(db)
    seed_exercises(db)
    png = tmp_path / "m.png"
    done = _cli(
        sqlite_url,
        "monthly",
        "--month",
        "2026-11",
        "--format",
        "png",
        "--out",
        str(png),
        "--lang",
        "zh",
    )
    assert done.returncode == 0, done.stderr
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000

    out = tmp_path / "m.csv"
    done = _cli(sqlite_url, "monthly", "--month", "2026-11", "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = {
        (r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(out.read_text()))
    }
    assert rows[("by_topic", "confidentiality")] == "6"
    assert rows[("by_topic", "honesty")] == "fewer than 5"
    assert rows[("acknowledge", "median_days")] == "8.0"
    assert rows[("acknowledge", "missed")] == "6"
    assert rows[("anonymous", "follow_up_rate")] == "0.4"
    # the same dict feeds the chart: the CSV holds exactly the figures the alt text names
    from bot.service import utcnow

    report = stats.monthly(db, NOV, utcnow())
    assert len(rows) == len(stats.month_rows(report))

    js = tmp_path / "m.json"
    assert (
        _cli(
            sqlite_url, "monthly", "--month", "2026-11", "--format", "json", "--out", str(js)
        ).returncode
        == 0
    )
    assert json.loads(js.read_text())["by_topic"] == {"confidentiality": 6, "honesty": None}

    ex = tmp_path / "x.csv"
    done = _cli(sqlite_url, "exercises", "--format", "csv", "--out", str(ex))
    assert done.returncode == 0, done.stderr
    assert "ex-mini-3" in ex.read_text()
    exp = tmp_path / "x.png"
    assert _cli(sqlite_url, "exercises", "--format", "png", "--out", str(exp)).returncode == 0
    assert exp.read_bytes().startswith(b"\x89PNG")

    bad = _cli(sqlite_url, "monthly", "--month", "2026-13", "--format", "csv", "--out", str(out))
    assert bad.returncode == 2 and "not a month" in bad.stderr
