"""Shared fixtures: content folders, databases (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CONTENT = Path(__file__).parent / "fixtures" / "content"
PG_ADMIN_URL = os.environ.get("ETHICSBOT_TEST_PG", "postgresql+psycopg://127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


PG_OK = _pg_reachable()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database of each kind; PostgreSQL variants skip when no server answers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not PG_OK:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    name = f"eb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (user UZH has a Chinese locale)."""
    f = FakeSlack(locales={"UZH": "zh-CN"})
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


def settings_env(db_url: str, content: Path = FIXTURE_CONTENT, **extra: str) -> dict[str, str]:
    # a configured deployment sets its key; tests/test_config.py covers the generated one
    env = {
        "DATABASE_URL": db_url,
        "ETHICSBOT_CONTENT": str(content),
        "ETHICSBOT_SECRET_KEY": "test-pseudonym-key",
    }
    env.update(extra)
    return env
